import type { Stats } from './measure.js';

export type Unit = 'ms' | 's' | 'MiB/s' | 'MB';

/** One line of the report: a measured series, optionally compared with a reference and judged against a budget. */
export interface Figure {
  readonly section: string;
  readonly label: string;
  readonly unit: Unit;
  readonly stats: Stats;
  /** subject ÷ reference (medians), e.g. 1.08 for start-up over the runtime floor. */
  readonly ratio?: { readonly value: number; readonly of: string; readonly extra?: string };
  readonly budget?: { readonly rule: string; readonly pass: boolean };
}

/** Something that was not measured, and why: printed, never silently dropped. */
export interface Note {
  readonly section: string;
  readonly kind: 'skipped' | 'error' | 'note';
  readonly text: string;
}

export class Report {
  readonly figures: Figure[] = [];
  readonly notes: Note[] = [];
  readonly sections: Array<{ readonly id: string; readonly title: string }> = [];

  section(id: string, title: string): void {
    this.sections.push({ id, title });
  }

  add(figure: Figure): Figure {
    this.figures.push(figure);
    return figure;
  }

  note(section: string, kind: Note['kind'], text: string): void {
    this.notes.push({ section, kind, text });
  }

  get errors(): number {
    return this.notes.filter((n) => n.kind === 'error').length;
  }

  table(): string {
    const out: string[] = [];
    const head = `${'figure'.padEnd(LABEL)}${['min', 'median', 'max'].map((h) => h.padStart(NUM)).join('')}  unit    ratio`;
    // In the issue's order (sections are numbered in their titles), whatever order they ran in.
    const ordered = [...this.sections].sort((a, b) => Number.parseInt(a.title, 10) - Number.parseInt(b.title, 10));
    for (const { id, title } of ordered) {
      const figures = this.figures.filter((x) => x.section === id);
      out.push('', title);
      if (figures.length > 0) out.push(head, '-'.repeat(head.length + 30));
      for (const f of figures) out.push(row(f));
      for (const n of this.notes.filter((x) => x.section === id)) out.push(`  ${n.kind}: ${n.text}`);
    }
    const budgets = this.figures.filter((f) => f.budget !== undefined);
    if (budgets.length > 0) {
      out.push('', 'Budgets (reported, never enforced)');
      for (const f of budgets) {
        const b = f.budget as NonNullable<Figure['budget']>;
        out.push(`  ${b.pass ? 'pass' : 'OVER'}  ${b.rule}`);
      }
    }
    return `${out.join('\n')}\n`;
  }
}

const LABEL = 56;
const NUM = 10;

function row(f: Figure): string {
  const digits = f.unit === 'MiB/s' ? 0 : f.unit === 's' ? 2 : 1;
  const num = (x: number): string => (Number.isFinite(x) ? x.toFixed(digits) : '—').padStart(NUM);
  const { min, median, max } = f.stats;
  const ratio = f.ratio
    ? `${f.ratio.value.toFixed(2)}× ${f.ratio.of}${f.ratio.extra ? ` (${f.ratio.extra})` : ''}`
    : '';
  const label = f.label.length > LABEL - 2 ? `${f.label.slice(0, LABEL - 3)}…` : f.label;
  return `  ${label.padEnd(LABEL - 2)}${num(min)}${num(median)}${num(max)}  ${f.unit.padEnd(6)}  ${ratio}`.trimEnd();
}

import type { Terminal } from '../fetch/progress.js';
import type { FileOutcome } from './fetch.js';

/**
 * Progress of a mirror run: on a terminal one bar for the whole run (files done of files needed), redrawn in place;
 * anywhere else (CI logs, a pipe) one line per file, so a log says what happened to each.
 */
export class MirrorProgress {
  private done = 0;
  private readonly counts = { present: 0, fetched: 0, missing: 0, failed: 0 };

  constructor(
    private readonly total: number,
    private readonly terminal: Terminal | undefined,
    private readonly line: (text: string) => void,
  ) {}

  /** Retry notes and the like: on a terminal, printed above the bar. */
  note(text: string): void {
    this.clear();
    this.line(text);
    this.draw();
  }

  finished(outcome: FileOutcome): void {
    this.done++;
    this.counts[outcome.state]++;
    if (this.terminal === undefined) {
      this.line(fileLine(outcome));
      return;
    }
    if (outcome.state === 'failed') this.note(fileLine(outcome));
    this.draw();
  }

  end(): void {
    this.clear();
  }

  private draw(): void {
    if (this.terminal === undefined) return;
    const width = Math.max(10, Math.min(40, (this.terminal.columns ?? 80) - 60));
    const filled = this.total === 0 ? width : Math.round((this.done / this.total) * width);
    const c = this.counts;
    this.terminal.write(
      `\r* mirror [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.done}/${this.total} files (${c.fetched} fetched, ${c.present} present, ${c.missing} missing, ${c.failed} failed)\u001b[K`,
    );
  }

  private clear(): void {
    this.terminal?.write('\r\u001b[K');
  }
}

export function fileLine(o: FileOutcome): string {
  const from = o.origin === undefined ? '' : ` from ${o.origin}`;
  switch (o.state) {
    case 'present':
      return `* present  ${o.file.key} (already in the mirror, not fetched)`;
    case 'fetched':
      return `* fetched  ${o.file.key} (${o.bytes} bytes${from})`;
    case 'missing':
      return `* missing  ${o.file.key} (not upstream: ${o.detail})`;
    case 'failed':
      return `* FAILED   ${o.file.key}${from}: ${o.detail}`;
  }
}

/** One row per host of the plans: how many of the files it needs are in the mirror, missing upstream, failed. */
export function summaryTable(outcomes: readonly FileOutcome[]): string {
  const TOTAL = '\u0000total';
  const hosts = new Map<string, { files: number; found: number; missing: number; failed: number }>();
  const add = (host: string, o: FileOutcome) => {
    const row = hosts.get(host) ?? { files: 0, found: 0, missing: 0, failed: 0 };
    row.files++;
    if (o.state === 'present' || o.state === 'fetched') row.found++;
    else if (o.state === 'missing') row.missing++;
    else row.failed++;
    hosts.set(host, row);
  };
  for (const o of outcomes) {
    for (const host of o.file.hosts) add(host, o);
    add(TOTAL, o);
  }
  const header = ['host', 'files', 'found', 'missing upstream', 'failed'];
  const cells = (host: string) => {
    const r = hosts.get(host) ?? { files: 0, found: 0, missing: 0, failed: 0 };
    return [host === TOTAL ? 'all hosts (unique files)' : host, r.files, r.found, r.missing, r.failed].map(String);
  };
  const names = [...hosts.keys()].filter((h) => h !== TOTAL).sort((a, b) => a.localeCompare(b));
  const sorted = [...names, TOTAL].map(cells);
  const widths = header.map((h, i) => Math.max(h.length, ...sorted.map((r) => (r[i] ?? '').length)));
  const format = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[format(header), ...sorted.map(format)].join('\n')}\n`;
}

import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { BenchContext } from './context.js';
import { quietEnv } from './context.js';
import { runTimed } from './measure.js';

/** Small and statically imported on purpose (src/cli/settings.ts); everything else must load on demand. */
const LIGHT = new Set(['src', 'semver']);
/** Built-ins that mean the network or process layer was set up: none is needed to print the environment. */
const HEAVY_BUILTINS = ['http', 'https', 'http2', 'net', 'tls', 'dns', 'child_process', 'worker_threads'];

export interface ImportResult {
  readonly command: string;
  /** package (or "src") → modules evaluated / modules in the bundle. */
  readonly packages: Record<string, { readonly evaluated: number; readonly bundled: number }>;
  readonly heavyEvaluated: readonly string[];
  readonly builtins: readonly string[];
  readonly heavyBuiltins: readonly string[];
}

/** "node_modules/@sec-ant/readable-stream/dist/x.js" → "@sec-ant/readable-stream"; "src/cli/args.ts" → "src". */
export function packageOf(input: string): string {
  const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  return m?.[1] ?? (input.startsWith('src/') ? 'src' : input);
}

/**
 * Issue #9 (5): which bundled modules `--print-env` (and `--help`) evaluate. The bundle is one file, so require
 * hooks and NODE_DEBUG=module see nothing; run.mjs rebuilt it with a marker at the end of every module instead.
 */
export function imports(ctx: BenchContext): ImportResult[] {
  const section = 'imports';
  const { report, built } = ctx;
  report.section(section, '5. Import cost: what --print-env evaluates, and what carrying the rest costs');
  const bundled = new Map<string, number>();
  for (const input of built.bundleInputs) {
    if (!/\.[cm]?[jt]s$/.test(input)) continue;
    bundled.set(packageOf(input), (bundled.get(packageOf(input)) ?? 0) + 1);
  }
  const results: ImportResult[] = [];
  for (const arg of ['--print-env', '--help']) {
    const out = path.join(ctx.work, `imports${arg}.json`);
    const r = runTimed({
      file: process.execPath,
      args: ['-r', built.importHook, built.instrumentedBundle, arg],
      env: { ...quietEnv(ctx), FDL_BENCH_IMPORTS_OUT: out },
      timeoutMs: 15_000,
    });
    if (r.code !== 0 || r.error !== undefined) {
      report.note(section, 'error', `${arg}: the instrumented bundle failed: ${r.error ?? r.stderr.trim()}`);
      continue;
    }
    const seen = JSON.parse(readFileSync(out, 'utf8')) as { evaluated: string[]; builtins: string[] };
    const evaluated = new Map<string, number>();
    for (const input of seen.evaluated) evaluated.set(packageOf(input), (evaluated.get(packageOf(input)) ?? 0) + 1);
    const packages = Object.fromEntries(
      [...bundled].map(([pkg, n]) => [pkg, { evaluated: evaluated.get(pkg) ?? 0, bundled: n }]),
    );
    const heavyEvaluated = [...evaluated.keys()].filter((p) => !LIGHT.has(p));
    const builtins = seen.builtins.filter((b) => !b.startsWith('internal/'));
    const heavyBuiltins = builtins.filter((b) => HEAVY_BUILTINS.includes(b));
    results.push({ command: arg, packages, heavyEvaluated, builtins, heavyBuiltins });

    const list = (entries: Array<[string, { evaluated: number; bundled: number }]>): string =>
      entries.map(([p, c]) => `${p} ${c.evaluated}/${c.bundled}`).join(', ') || 'none';
    const entries = Object.entries(packages).sort((a, b) => b[1].bundled - a[1].bundled);
    report.note(
      section,
      'note',
      `${arg}: evaluated (modules run/bundled): ${list(entries.filter((e) => e[1].evaluated > 0))}`,
    );
    report.note(section, 'note', `${arg}: not evaluated: ${list(entries.filter((e) => e[1].evaluated === 0))}`);
    report.note(
      section,
      'note',
      `${arg}: ${heavyEvaluated.length === 0 ? '' : 'OVER: '}heavy packages evaluated (undici, execa and its dependencies): ${heavyEvaluated.join(', ') || 'none'}`,
    );
    report.note(
      section,
      'note',
      `${arg}: Node built-ins loaded by the bundle: ${builtins.join(' ') || 'none'}; network/process ones: ${heavyBuiltins.join(' ') || 'none'}`,
    );
  }
  report.note(
    section,
    'note',
    "the row above runs in the start-up series: dist's bundle built with --external:undici --external:execa; the difference is V8 parsing code that never runs",
  );
  if (![...bundled.keys()].some((p) => p.startsWith('yargs'))) {
    report.note(section, 'note', 'yargs is not bundled (src/cli/args.ts parses the legacy grammar itself)');
  }
  return results;
}

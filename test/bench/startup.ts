import path from 'node:path';
import type { BenchContext } from './context.js';
import { quietEnv } from './context.js';
import { type Command, interleaved, runTimed, stats } from './measure.js';
import type { Figure } from './report.js';
import { helloSea, seaRuntime } from './setup.js';

const PLAN = { warmup: 3, rounds: 25 } as const;
const TIMEOUT_MS = 15_000;
/** Issue #17: the single executable against a hello-world one of the same runtime; bin/ against `node -e 0`. */
const SEA_BUDGET = 1.15;
const SHIM_BUDGET = 1.5;
/** What must start like hello-world: none of them runs a download or a program. */
const ARGS = ['--print-env', '--help', '--version', '--dry-run'] as const;

interface Subject {
  readonly id: string;
  readonly label: string;
  readonly cmd: Command;
  /** id of the floor it is compared with, for subjects (floors have none). */
  readonly floor?: string;
  /** The report section, when not start-up (the import-cost diagnostic runs in this series, beside its floor). */
  readonly section?: string;
  /** The largest ratio to its floor that meets the goal. */
  readonly budget?: number;
  /** How ratios against it name it. */
  readonly short?: string;
}

/**
 * Issue #9 (1), #17: `--print-env`, `--help`, `--version` and `--dry-run` of the single executable and of
 * bin/falco-driver-loader (Node + bundle), against the same runtime doing nothing (a hello-world single executable,
 * `node -e 0`).
 */
export async function startup(ctx: BenchContext): Promise<void> {
  const section = 'startup';
  const { report } = ctx;
  report.section(
    section,
    `1. Start-up, wall ms per process (${PLAN.rounds} interleaved rounds after ${PLAN.warmup} warm-up rounds)`,
  );
  const env = quietEnv(ctx);
  const cmd = (file: string, args: readonly string[]): Command => ({ file, args, env, timeoutMs: TIMEOUT_MS });
  const node = process.execPath;
  const subjects: Subject[] = [
    {
      id: 'floor20',
      label: `node -e 0  [floor: Node ${process.version}, runs the bundle]`,
      short: `node ${process.version} -e 0`,
      cmd: cmd(node, ['-e', '0']),
    },
    ...ARGS.flatMap((arg): Subject[] => [
      {
        id: `bundle${arg}`,
        label: `node dist/falco-driver-loader.cjs ${arg}`,
        short: 'the bundle',
        cmd: cmd(node, [ctx.bundle, arg]),
        floor: 'floor20',
      },
      {
        id: `shim${arg}`,
        label: `bin/falco-driver-loader ${arg}`,
        cmd: cmd(ctx.shim, [arg]),
        floor: 'floor20',
        ...(arg === '--print-env' ? { budget: SHIM_BUDGET } : {}),
      },
    ]),
    {
      id: 'withoutHeavy',
      label: 'same bundle minus undici+execa source, --print-env',
      cmd: cmd(node, [ctx.built.bundleWithoutHeavy, '--print-env']),
      floor: 'bundle--print-env',
      section: 'imports',
    },
  ];

  const runtime22 = seaRuntime(ctx.root);
  const hello = ctx.sea ? helloSea(ctx.root, ctx.work) : { skipped: 'no single executable to compare it with' };
  if (ctx.sea === undefined) {
    report.note(section, 'skipped', 'single executable: not built (run npm run build:sea)');
  } else {
    const seaName = path.relative(ctx.root, ctx.sea.exe);
    if (runtime22) {
      subjects.push({
        id: 'floor22',
        label: `node -e 0  [floor: Node ${runtime22.version}, the SEA's runtime]`,
        short: `node ${runtime22.version} -e 0`,
        cmd: cmd(runtime22.node, ['-e', '0']),
      });
    } else {
      report.note(section, 'skipped', "the SEA's plain runtime (dist/.cache/node-runtime/…/node) is not cached");
    }
    if ('exe' in hello) {
      subjects.push({
        id: 'floorSea',
        label: 'hello-world SEA  [floor]',
        short: 'hello-world SEA',
        cmd: cmd(hello.exe, []),
      });
    } else {
      report.note(section, 'skipped', `hello-world SEA floor: ${hello.skipped}`);
    }
    const seaFloor = 'exe' in hello ? 'floorSea' : runtime22 ? 'floor22' : undefined;
    for (const arg of ARGS) {
      subjects.push({
        id: `sea${arg}`,
        label: `${seaName} ${arg}`,
        cmd: cmd(ctx.sea.exe, [arg]),
        ...(seaFloor === undefined
          ? {}
          : { floor: seaFloor, ...(arg === '--print-env' && seaFloor === 'floorSea' ? { budget: SEA_BUDGET } : {}) }),
      });
    }
    if (ctx.sea.stale) {
      report.note(section, 'note', `${seaName} was built before the last change under src/ (it may lag the bundle)`);
    }
  }

  const samples = new Map<string, number[]>(subjects.map((s) => [s.id, []]));
  const failures = new Map<string, string>();
  ctx.log(`start-up: ${subjects.length} commands × ${PLAN.warmup + PLAN.rounds} runs`);
  await interleaved(subjects, PLAN, (s, measured) => {
    const r = runTimed(s.cmd);
    if (r.error !== undefined || r.code !== 0) failures.set(s.id, r.error ?? `exit ${r.code}: ${r.stderr.trim()}`);
    else if (measured) samples.get(s.id)?.push(r.ms);
  });

  const medians = new Map<string, number>();
  for (const s of subjects) {
    const failed = failures.get(s.id);
    if (failed !== undefined) {
      report.note(section, 'error', `${s.label}: ${failed.split('\n')[0]}`);
      continue;
    }
    const st = stats(samples.get(s.id) ?? []);
    medians.set(s.id, st.median);
    const floorMedian = s.floor === undefined ? undefined : medians.get(s.floor);
    const figure: Figure = { section: s.section ?? section, label: s.label, unit: 'ms', stats: st };
    if (s.floor === undefined || floorMedian === undefined) {
      report.add(figure);
      continue;
    }
    const ratio = st.median / floorMedian;
    const reference = subjects.find((x) => x.id === s.floor);
    const floorLabel = reference?.short ?? reference?.label ?? s.floor;
    const over = st.median - floorMedian;
    report.add({
      ...figure,
      ratio: { value: ratio, of: floorLabel, extra: `${over >= 0 ? '+' : ''}${over.toFixed(1)} ms` },
      ...(s.budget !== undefined
        ? {
            budget: {
              rule: `${s.label}: ${ratio.toFixed(2)}× ${floorLabel} (budget ≤ ${s.budget}×)`,
              pass: ratio <= s.budget,
            },
          }
        : {}),
    });
  }
  report.note(section, 'note', "ratio = median ÷ the floor's median; wall time of the whole process, spawn to exit");
}

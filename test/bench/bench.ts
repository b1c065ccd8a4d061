/**
 * `npm run bench` (issue #9): start-up, download, end to end, time-to-fail and import cost, measured side by side
 * on this machine in one run, printed as a table with ratios, saved to test/bench/results.json. A script, not a
 * test: timing never changes the exit code (only a scenario that could not be measured does).
 * run.mjs bundles this file (test helpers included, `vitest` replaced by vitestStub.ts) and calls runBench().
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { BenchContext, Built } from './context.js';
import { endToEnd, type Simulated, simulatedKernel, timeToFail } from './flows.js';
import { type ImportResult, imports } from './imports.js';
import { type MirrorUpstream, mirrorBench, mirrorUpstream } from './mirror.js';
import { Report } from './report.js';
import { ensureTool, machine, onPath, singleExecutable } from './setup.js';
import { bySize, SIZES_MIB, sizedPath } from './sizes.js';
import { startup } from './startup.js';
import { FILE_MIB, transfer } from './transfer.js';
import { runCleanups } from './vitestStub.js';

const FILE_BYTES = FILE_MIB * 1024 * 1024;

export async function runBench(options: { root: string; work: string; built: Built }): Promise<number> {
  const began = performance.now();
  const loadStart = os.loadavg()[0] ?? 0;
  const { root, work, built } = options;
  const log = (line: string): void => {
    process.stderr.write(`[bench +${((performance.now() - began) / 1000).toFixed(1)}s] ${line}\n`);
  };
  const report = new Report();
  const ctx: BenchContext = {
    root,
    work,
    report,
    log,
    built,
    bundle: path.join(root, 'dist', 'falco-driver-loader.cjs'),
    shim: path.join(root, 'bin', 'falco-driver-loader'),
    sea: singleExecutable(root),
    time: ensureTool('/usr/bin/time', 'time', log),
    curl: ensureTool('curl', 'curl', log),
    gcc: onPath('gcc'),
  };
  mkdirSync(path.join(work, 'home'), { recursive: true });
  const host = machine(ctx.curl);

  let importResults: ImportResult[] = [];
  let server: Server | undefined;
  // `FALCO_DRIVER_LOADER_BENCH_ONLY=mirror npm run bench`: only the mirror figure (issue 19), for a quick measurement.
  const onlyMirror = process.env.FALCO_DRIVER_LOADER_BENCH_ONLY === 'mirror';
  try {
    if (!onlyMirror) await startup(ctx);
    if (!onlyMirror) importResults = imports(ctx);

    const sim = ctx.gcc ? simulatedKernel(FILE_BYTES) : { error: 'gcc is missing: no test module can be built' };
    const payload = 'error' in sim ? randomFile(work) : sim.module;
    if ('error' in sim) report.note('e2e', 'skipped', sim.error);
    const files: Record<string, string> = { '/file.bin': payload };
    if (!('error' in sim)) files[sim.urlPath] = sim.module;
    const mirror: MirrorUpstream | undefined = ctx.gcc ? mirrorUpstream(ctx) : undefined; // issue 19
    Object.assign(files, mirror?.files);
    // Issue #17: the --download flow and its memory for 5, 50 and 256 MiB modules.
    const sized = ctx.gcc ? SIZES_MIB.map((mib) => simulatedKernel(mib * 1024 * 1024)) : [];
    const sizes = sized.filter((s): s is Simulated => !('error' in s));
    for (const s of sizes) files[sizedPath(s)] = s.module;
    log('starting the repository server (its own process)');
    server = await startServer(built.server, { files, blackholes: 2 });

    if (!onlyMirror) await transfer(ctx, server.origin, FILE_BYTES);
    if (onlyMirror) {
      // the other sections are left out on purpose
    } else if ('error' in sim) {
      report.section('e2e', '3. End to end, simulated kernel');
      report.section('ttf', '4. Time-to-fail');
      report.note('ttf', 'skipped', sim.error);
    } else {
      await endToEnd(ctx, sim as Simulated, server.origin);
      await timeToFail(ctx, sim as Simulated, server.blackholes);
    }
    if (sizes.length === 0) {
      report.section('sizes', '5. --download flow by module size');
      report.note('sizes', 'skipped', 'error' in sim ? sim.error : 'no sized test module could be built');
    } else {
      await bySize(ctx, sizes, server.origin);
    }
    if (mirror === undefined) {
      report.section('mirror', '6. Mirror');
      report.note('mirror', 'skipped', 'gcc is missing: no test module can be built');
    } else {
      await mirrorBench(ctx, server.origin, mirror);
    }
  } finally {
    await server?.stop();
    await runCleanups();
  }

  const seconds = (performance.now() - began) / 1000;
  const load = { start: loadStart, end: os.loadavg()[0] ?? 0 };
  process.stdout.write(header(host, ctx, seconds, load));
  process.stdout.write(report.table());
  const resultsFile = path.join(root, 'test', 'bench', 'results.json');
  const results = {
    generatedAt: new Date().toISOString(),
    durationSeconds: Number(seconds.toFixed(1)),
    machine: host,
    loadAverage1m: load,
    runtimes: {
      bundle: { node: process.version, file: 'dist/falco-driver-loader.cjs' },
      singleExecutable: ctx.sea
        ? {
            file: path.relative(root, ctx.sea.exe),
            version: ctx.sea.version,
            node: ctx.sea.nodeVersion,
            builtAt: ctx.sea.builtAt.toISOString(),
            olderThanSrc: ctx.sea.stale,
          }
        : null,
    },
    tools: { curl: ctx.curl ?? null, time: ctx.time ?? null, gcc: ctx.gcc ?? null },
    sections: report.sections,
    figures: report.figures,
    notes: report.notes,
    imports: importResults,
  };
  writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\nwrote ${path.relative(root, resultsFile)} in ${seconds.toFixed(0)} s\n`);
  return report.errors === 0 ? 0 : 1;
}

function header(
  host: ReturnType<typeof machine>,
  ctx: BenchContext,
  seconds: number,
  load: { start: number; end: number },
): string {
  const sea = ctx.sea
    ? `${path.relative(ctx.root, ctx.sea.exe)} (${ctx.sea.version}, Node v${ctx.sea.nodeVersion ?? '?'}, built ${ctx.sea.builtAt.toISOString()})`
    : 'skipped: not built (run npm run build:sea)';
  return [
    `falco-driver-loader benchmark (${seconds.toFixed(0)} s)`,
    `machine: ${host.nproc} CPUs, ${host.cpuModel}, ${host.memMiB} MiB, ${host.os}, Linux ${host.kernel}`,
    `bundle:  dist/falco-driver-loader.cjs on Node ${host.node}`,
    `single executable: ${sea}`,
    `curl: ${host.curl?.split(' ').slice(0, 2).join(' ') ?? 'missing'}; peak RSS: ${ctx.time ? 'GNU time %M (ru_maxrss)' : 'skipped (no /usr/bin/time)'}`,
    `load average (1 min) at start ${load.start.toFixed(2)}, at end ${load.end.toFixed(2)}: figures from a busy machine vary more`,
    '',
  ].join('\n');
}

function randomFile(work: string): string {
  const file = path.join(work, 'random.bin');
  const chunk = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 7919) & 0xff;
  writeFileSync(file, Buffer.concat(Array.from({ length: FILE_BYTES / chunk.length }, () => chunk)));
  return file;
}

interface Server {
  readonly origin: string;
  readonly blackholes: number[];
  stop(): Promise<void>;
}

/** server.ts in its own Node process; it prints its ports on one line and exits when its stdin closes. */
async function startServer(script: string, config: object): Promise<Server> {
  const child: ChildProcess = spawn(process.execPath, [script, JSON.stringify(config)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.stdin?.end();
    });
  const first = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the repository server did not start within 30 s')), 30_000);
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    rl.once('line', (line) => {
      clearTimeout(timer);
      resolve(line);
    });
    child.once('exit', (code) => reject(new Error(`the repository server exited (${code})`)));
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  const { origin, blackholes } = JSON.parse(first) as { origin: string; blackholes: number[] };
  return { origin, blackholes, stop };
}

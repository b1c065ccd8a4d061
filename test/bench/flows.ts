import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { downloadUrl } from '../../src/artifact/plan.js';
import { checkModuleBytes } from '../../src/kmod/verify.js';
import { closedPort } from '../helpers/httpServer.js';
import { FakeKernel } from '../kmod/fakeKernel.js';
import { moduleFor } from '../kmod/modules.js';
import type { BenchContext } from './context.js';
import { type Command, interleaved, type Line, type RssProbe, runLines, runTimed, stats } from './measure.js';

/** A simulated kernel (test/kmod/fakeKernel.ts) and a module for it, padded to a realistic driver size. */
export interface Simulated {
  readonly kernel: FakeKernel;
  /** The real ELF from test/kmod/modules.ts (gcc -c, .modinfo with vermagic and version) + random bytes after it. */
  readonly module: string;
  readonly bytes: number;
  /** Where the second repository serves it: `/repo/<driver version>/<arch>/<file>`, percent-encoded like the loader. */
  readonly urlPath: string;
  readonly cachePath: string;
}

/**
 * Bytes appended after the ELF data are outside every section, so the loader's checks (ELF type, machine,
 * .modinfo vermagic) still pass; this is verified here with the loader's own checkModuleBytes().
 */
export function simulatedKernel(bytes: number): Simulated | { error: string } {
  const kernel = new FakeKernel();
  const elf = readFileSync(moduleFor(kernel.release, kernel.driverVersion));
  const data = Buffer.concat([elf, randomBytes(Math.max(0, bytes - elf.length))]);
  const why = checkModuleBytes(data, { arch: os.machine(), kernelRelease: kernel.release });
  if (why !== undefined) return { error: `the padded test module fails the loader's checks: ${why}` };
  const module = path.join(kernel.tmp, 'driver-padded.ko');
  writeFileSync(module, data);
  const fileName = `falco_centos_${kernel.release}_1.ko`;
  return {
    kernel,
    module,
    bytes: data.length,
    urlPath: new URL(downloadUrl('http://x/repo', kernel.driverVersion, os.machine(), fileName)).pathname,
    cachePath: kernel.cachePath(fileName),
  };
}

/** Before every run: falco loaded by an earlier boot (so the cleaning phase has an rmmod to do), a fresh call log. */
function resetKernel(k: FakeKernel, loaded: boolean): void {
  writeFileSync(path.join(k.sysroot, 'proc/modules'), '');
  rmSync(path.join(k.sysroot, 'sys/module'), { recursive: true, force: true });
  rmSync(k.bin.log, { force: true });
  if (loaded) k.preload('falco', 'old');
}

const E2E = { warmup: 1, rounds: 5 } as const;

/**
 * Issue #9 (3): a default run (clean → cache → repo 1 answers 404 → repo 2 serves the module → insmod) with fake
 * programs on PATH, cold (empty cache) against warm (module cached), for the bundle and the single executable.
 */
export async function endToEnd(ctx: BenchContext, sim: Simulated, origin: string): Promise<void> {
  const section = 'e2e';
  const { report } = ctx;
  const mib = (sim.bytes / 1024 / 1024).toFixed(0);
  report.section(
    section,
    `3. End to end, simulated kernel, ${mib} MiB module from the 2nd of 2 repos (${E2E.rounds} rounds after ${E2E.warmup} warm-up)`,
  );
  const k = sim.kernel;
  const env = k.env({ DRIVERS_REPO: `${origin}/missing ${origin}/repo` });
  const programs: Array<{ id: string; label: string; file: string; args: string[] }> = [
    { id: 'bundle', label: 'bundle (Node 20)', file: process.execPath, args: [ctx.bundle] },
  ];
  if (ctx.sea) programs.push({ id: 'sea', label: 'single executable', file: ctx.sea.exe, args: [] });
  else report.note(section, 'skipped', 'single executable: not built (run npm run build:sea)');
  const rss: RssProbe | undefined = ctx.time ? { timeBin: ctx.time, file: path.join(ctx.work, 'rss') } : undefined;
  if (rss === undefined) report.note(section, 'skipped', 'peak RSS: GNU time (/usr/bin/time) is missing');

  type Case = { program: (typeof programs)[number]; cold: boolean };
  const cases: Case[] = programs.flatMap((program) => [
    { program, cold: true },
    { program, cold: false },
  ]);
  const key = (c: Case): string => `${c.program.id}-${c.cold ? 'cold' : 'warm'}`;
  const wall = new Map<string, number[]>(cases.map((c) => [key(c), []]));
  const peak = new Map<string, number[]>(cases.map((c) => [key(c), []]));
  const failures = new Map<string, string>();
  ctx.log(`end to end: ${cases.length} cases × ${E2E.warmup + E2E.rounds} runs`);
  await interleaved(cases, E2E, (c, measured) => {
    resetKernel(k, true);
    if (c.cold) rmSync(sim.cachePath, { force: true });
    else if (!existsSync(sim.cachePath)) {
      mkdirSync(path.dirname(sim.cachePath), { recursive: true });
      copyFileSync(sim.module, sim.cachePath);
    }
    const cmd: Command = { file: c.program.file, args: c.program.args, env, timeoutMs: 60_000 };
    const r = runTimed(cmd, rss);
    const downloads = r.stdout.split('\n').filter((l) => l.startsWith('* Trying to download')).length;
    const problem =
      r.error ??
      (r.code !== 0
        ? `exit ${r.code}`
        : k.loadedVersion() !== k.driverVersion
          ? `loaded version ${k.loadedVersion()}, not ${k.driverVersion}`
          : c.cold && (downloads !== 2 || !r.stdout.includes('* Download succeeded'))
            ? 'the cold run did not download from the second repository'
            : !c.cold && downloads !== 0
              ? 'the warm run did not use the cache'
              : undefined);
    if (problem !== undefined) {
      failures.set(key(c), `${problem}: ${`${r.stdout}${r.stderr}`.trim().split('\n').slice(-3).join(' | ')}`);
      return;
    }
    if (!measured) return;
    wall.get(key(c))?.push(r.ms);
    if (r.rssKb !== undefined) peak.get(key(c))?.push(r.rssKb / 1024);
  });

  for (const program of programs) {
    const [cold, warm] = [`${program.id}-cold`, `${program.id}-warm`];
    const failed = failures.get(cold) ?? failures.get(warm);
    if (failed !== undefined) {
      report.note(section, 'error', `${program.label}: ${failed}`);
      continue;
    }
    const w = stats(wall.get(warm) ?? []);
    const c = stats(wall.get(cold) ?? []);
    report.add({ section, label: `${program.label}: warm (cached module)`, unit: 'ms', stats: w });
    report.add({
      section,
      label: `${program.label}: cold (404 from repo 1, download)`,
      unit: 'ms',
      stats: c,
      ratio: { value: c.median / w.median, of: 'warm', extra: `+${(c.median - w.median).toFixed(0)} ms` },
    });
    for (const [id, what] of [
      [warm, 'warm'],
      [cold, 'cold'],
    ] as const) {
      const mb = peak.get(id) ?? [];
      if (mb.length > 0)
        report.add({ section, label: `${program.label}: ${what}, peak RSS`, unit: 'MB', stats: stats(mb) });
    }
  }
  report.note(
    section,
    'note',
    'both runs clean (rmmod of a loaded falco) and insmod through the fake programs; the fake insmod reads the whole file',
  );
  report.note(
    section,
    'note',
    'the cached and the downloaded module are both checked by checkModuleFile(): positioned reads of header, section table and .modinfo',
  );
}

interface Scenario {
  readonly id: string;
  readonly label: string;
  readonly curlOptions: string;
  /** The bound the options configure for one repository, in ms, and how it follows from them. */
  readonly boundMs: number;
  readonly why: string;
  readonly reason: RegExp;
  readonly repos: () => Promise<string[]>;
}

const TTF_RUNS = 3;
const TTF_TOLERANCE = 1.1;

/**
 * Issue #9 (4): every repository refuses connections, or accepts and never answers. Measured from the output's
 * timestamps: "* Trying to download…" → "Unable to find a prebuilt…" per repository, and until the flow moves on
 * to the next step ("* Trying to load a system falco module…"). `--download` keeps DKMS out of the way.
 */
export async function timeToFail(ctx: BenchContext, sim: Simulated, blackholes: readonly number[]): Promise<void> {
  const section = 'ttf';
  const { report } = ctx;
  report.section(
    section,
    `4. Time-to-fail: 2 repos refuse / black-hole; bundle --download (${TTF_RUNS} runs each, no warm-up: timers, not CPU)`,
  );
  const k = sim.kernel;
  const scenarios: Scenario[] = [
    {
      id: 'refused',
      label: 'refused',
      curlOptions: '--retry 2',
      boundMs: 3000,
      why: '--retry 2: 1 s + 2 s',
      reason: /connection refused/,
      repos: async () => [await closedPort(), await closedPort()].map((p, i) => `http://127.0.0.1:${p}/r${i}`),
    },
    {
      id: 'blackhole',
      label: 'black hole',
      curlOptions: '--max-time 2',
      boundMs: 2000,
      why: '--max-time 2',
      reason: /gave up after|no response/,
      repos: async () => blackholes.map((p, i) => `http://127.0.0.1:${p}/r${i}`),
    },
  ];
  for (const sc of scenarios) {
    ctx.log(`time-to-fail: ${sc.label} × ${TTF_RUNS} runs (bound ${sc.boundMs / 1000} s per repo)`);
    const perRepo: number[] = [];
    const movedOn: number[] = [];
    let failure: string | undefined;
    let reasonSeen = '';
    for (let i = 0; i < TTF_RUNS && failure === undefined; i++) {
      resetKernel(k, false);
      rmSync(sim.cachePath, { force: true });
      const env = k.env({ DRIVERS_REPO: (await sc.repos()).join(' '), DRIVER_CURL_OPTIONS: sc.curlOptions });
      const r = await runLines({ file: process.execPath, args: [ctx.bundle, '--download'], env, timeoutMs: 60_000 });
      const at = (stream: Line['stream'], prefix: string): Line[] =>
        r.lines.filter((l) => l.stream === stream && l.text.startsWith(prefix));
      const starts = at('out', '* Trying to download a prebuilt');
      const ends = at('err', 'Unable to find a prebuilt');
      const reasons = at('err', 'Download failed:');
      const next = at('out', '* Trying to load a system');
      reasonSeen = reasons[0]?.text ?? '';
      if (r.error !== undefined || starts.length !== 2 || ends.length !== 2 || next.length !== 1) {
        failure = `${r.error ?? 'unexpected output'}: ${r.lines.map((l) => l.text).join(' | ')}`;
      } else if (!reasons.every((l) => sc.reason.test(l.text))) {
        failure = `unexpected failure reason: ${reasons.map((l) => l.text).join(' | ')}`;
      } else {
        starts.forEach((s, j) => {
          perRepo.push((ends[j]?.ms ?? Number.NaN) - s.ms);
        });
        movedOn.push((next[0]?.ms ?? Number.NaN) - (starts[0]?.ms ?? Number.NaN));
      }
    }
    if (failure !== undefined) {
      report.note(section, 'error', `${sc.label}: ${failure}`);
      continue;
    }
    const seconds = (xs: number[]) => stats(xs.map((x) => x / 1000));
    const repo = seconds(perRepo);
    const bound = sc.boundMs / 1000;
    report.add({
      section,
      label: `${sc.label}: per repo [${sc.why}]`,
      unit: 's',
      stats: repo,
      ratio: { value: repo.median / bound, of: `bound ${bound} s` },
      budget: {
        rule: `time-to-fail, ${sc.label}: slowest repo ${repo.max.toFixed(2)} s = ${(repo.max / bound).toFixed(2)}× the configured ${bound} s (budget ≤ ${TTF_TOLERANCE}×)`,
        pass: repo.max <= bound * TTF_TOLERANCE,
      },
    });
    const flow = seconds(movedOn);
    report.add({
      section,
      label: `${sc.label}: until the flow moves on (2 repos)`,
      unit: 's',
      stats: flow,
      ratio: { value: flow.median / (2 * bound), of: `bound ${2 * bound} s` },
    });
    report.note(section, 'note', `${sc.label}: DRIVER_CURL_OPTIONS='${sc.curlOptions}' → "${reasonSeen}"`);
  }
  report.note(
    section,
    'note',
    'with no DRIVER_CURL_OPTIONS the bounds are 7 s per refusing repo (3 retries: 1+2+4 s) and 60 s per black-holed repo (--max-time 60)',
  );
}

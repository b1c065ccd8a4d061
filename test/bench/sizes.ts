import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BenchContext } from './context.js';
import type { Simulated } from './flows.js';
import { type Command, interleaved, type RssProbe, runTimed, type Stats, stats } from './measure.js';

/** Issue #17: the module sizes that prove "flat", and the budgets of the --download flow. */
export const SIZES_MIB = [5, 50, 256] as const;
const RSS_BUDGET_MB = 80;
const FLOW_BUDGET = 1.3;
const PLAN = { warmup: 1, rounds: 5 } as const;

/** Where the server serves the module of a size (the simulated kernels share one release, so one file name). */
export const sizedPath = (sim: Simulated): string => `/s${Math.round(sim.bytes / 1024 / 1024)}${sim.urlPath}`;

type Who = 'ours' | 'curl' | 'curlFsync';

/**
 * Issue #17: the whole `--download` flow (clean, download from the repository, check, fsync, rename, insmod through
 * the fake programs) of the single executable (the bundle when it is not built) for 5, 50 and 256 MiB modules,
 * against `curl -o` of the same URL with and without a final fsync (coreutils `sync FILE`), interleaved: wall time
 * with ratios pair by pair, and peak RSS (GNU time %M) per size. Each size is served under `/s<MiB>/`
 * (sizedPath()).
 */
export async function bySize(ctx: BenchContext, sims: readonly Simulated[], origin: string): Promise<void> {
  const section = 'sizes';
  const { report } = ctx;
  report.section(
    section,
    `5. --download flow by module size, ours vs curl -o (${PLAN.rounds} interleaved rounds after ${PLAN.warmup} warm-up)`,
  );
  if (ctx.curl === undefined) {
    report.note(section, 'skipped', 'curl is missing: no reference to compare with');
    return;
  }
  const program = ctx.sea
    ? { label: 'single executable', file: ctx.sea.exe, args: ['--download'] }
    : { label: 'bundle (Node 20)', file: process.execPath, args: [ctx.bundle, '--download'] };
  if (!ctx.sea) report.note(section, 'skipped', 'single executable not built: the bundle runs the flow instead');
  const rss: RssProbe | undefined = ctx.time ? { timeBin: ctx.time, file: path.join(ctx.work, 'rss') } : undefined;
  const sync = ['/usr/bin/sync', '/bin/sync'].find((f) => existsSync(f));
  const who: Who[] = sync === undefined ? ['ours', 'curl'] : ['ours', 'curl', 'curlFsync'];
  if (sync === undefined) report.note(section, 'skipped', 'curl + fsync: coreutils sync is missing');
  const rssBySize = new Map<number, Stats>();

  for (const sim of sims) {
    const mib = Math.round(sim.bytes / 1024 / 1024);
    const k = sim.kernel;
    // The fake insmod takes the version from this instead of reading the whole module through tr (a real insmod's
    // copy into the kernel is not the loader's cost, and curl has none).
    const env = k.env({ DRIVERS_REPO: `${origin}/s${mib}/repo`, FAKE_MODULE_VERSION: k.driverVersion });
    const url = `${origin}${sizedPath(sim)}`;
    const curlDest = path.join(ctx.work, 'curl-cache', 'driver.ko');
    const wall: Record<Who, number[]> = { ours: [], curl: [], curlFsync: [] };
    const peak: Record<Who, number[]> = { ours: [], curl: [], curlFsync: [] };
    let failure: string | undefined;
    ctx.log(`by size: ${mib} MiB × ${PLAN.warmup + PLAN.rounds} runs each of ${who.join(', ')}`);
    await interleaved<Who>(who, PLAN, (w, measured) => {
      writeFileSync(path.join(k.sysroot, 'proc/modules'), '');
      rmSync(path.join(k.sysroot, 'sys/module'), { recursive: true, force: true });
      rmSync(sim.cachePath, { force: true });
      rmSync(path.dirname(curlDest), { recursive: true, force: true });
      mkdirSync(path.dirname(curlDest), { recursive: true });
      const curlArgs = ['-sS', '--fail', '-o', curlDest, url];
      const cmd: Command =
        w === 'ours'
          ? { file: program.file, args: program.args, env, timeoutMs: 120_000 }
          : w === 'curl'
            ? { file: ctx.curl as string, args: curlArgs, env: { PATH: '/usr/bin:/bin' }, timeoutMs: 120_000 }
            : {
                file: '/bin/sh',
                args: ['-c', '"$0" "$@" && "$SYNC" "$DEST"', ctx.curl as string, ...curlArgs],
                env: { PATH: '/usr/bin:/bin', SYNC: sync as string, DEST: curlDest },
                timeoutMs: 120_000,
              };
      const r = runTimed(cmd, rss);
      const file = w === 'ours' ? sim.cachePath : curlDest;
      const size = existsSync(file) ? statSync(file).size : -1;
      const loaded = w !== 'ours' || k.loadedVersion() === k.driverVersion;
      if (r.error !== undefined || r.code !== 0 || size !== sim.bytes || !loaded) {
        const out = `${r.stdout}${r.stderr}`.trim().split('\n').slice(-3).join(' | ');
        failure ??= `${w}: ${r.error ?? `exit ${r.code}`}, ${size} of ${sim.bytes} bytes, loaded ${loaded}: ${out}`;
        return;
      }
      if (!measured) return;
      wall[w].push(r.ms);
      if (r.rssKb !== undefined) peak[w].push(r.rssKb / 1024);
    });
    if (failure !== undefined) {
      report.note(section, 'error', `${mib} MiB: ${failure}`);
      continue;
    }
    const w = { ours: stats(wall.ours), curl: stats(wall.curl), curlFsync: stats(wall.curlFsync) };
    report.add({ section, label: `${mib} MiB, curl -o (no fsync)`, unit: 'ms', stats: w.curl });
    if (who.includes('curlFsync')) {
      report.add({ section, label: `${mib} MiB, curl -o + sync FILE (fsync)`, unit: 'ms', stats: w.curlFsync });
    }
    const fair = who.includes('curlFsync') ? w.curlFsync : w.curl;
    const fairName = who.includes('curlFsync') ? 'curl + fsync' : 'curl';
    const ratio = w.ours.median / fair.median;
    report.add({
      section,
      label: `${mib} MiB, ${program.label} --download (whole flow)`,
      unit: 'ms',
      stats: w.ours,
      ratio: { value: ratio, of: fairName, extra: `${(w.ours.median / w.curl.median).toFixed(2)}× curl without fsync` },
      ...(mib === 256
        ? {
            budget: {
              rule: `--download flow, 256 MiB over loopback: ${ratio.toFixed(2)}× ${fairName} (budget ≤ ${FLOW_BUDGET}×)`,
              pass: ratio <= FLOW_BUDGET,
            },
          }
        : {}),
    });
    if (peak.curl.length > 0) {
      report.add({ section, label: `${mib} MiB, curl -o: peak RSS`, unit: 'MB', stats: stats(peak.curl) });
    }
    if (peak.ours.length > 0) {
      const p = stats(peak.ours);
      rssBySize.set(mib, p);
      const smallest = rssBySize.get(SIZES_MIB[0]);
      report.add({
        section,
        label: `${mib} MiB, ${program.label} --download: peak RSS`,
        unit: 'MB',
        stats: p,
        ...(smallest !== undefined && mib !== SIZES_MIB[0]
          ? { ratio: { value: p.median / smallest.median, of: `${SIZES_MIB[0]} MiB`, extra: 'flat = 1.0' } }
          : {}),
        ...(mib === 256
          ? {
              budget: {
                rule: `peak RSS of --download, 256 MiB module: ${p.max.toFixed(1)} MB (max of ${p.n}; budget < ${RSS_BUDGET_MB} MB)`,
                pass: p.max < RSS_BUDGET_MB,
              },
            }
          : {}),
      });
    }
  }
  report.note(section, 'note', 'ours: clean, download, ELF/vermagic check, fsync, rename, insmod (fake programs)');
  report.note(section, 'note', "curl + fsync = sh -c 'curl -o FILE URL && sync FILE' (what the loader guarantees)");
  report.note(
    section,
    'note',
    "legacy 0.36.2 script: not measured: its text (Falco's tag 0.36.2) is not on this machine, which reaches no Git host",
  );
}

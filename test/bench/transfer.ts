import { existsSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { BenchContext } from './context.js';
import { interleaved, mapStats, type RssProbe, runTimed, type Stats, stats } from './measure.js';

const TIMEOUT_MS = 60_000;
const MIB = 1024 * 1024;
/** The size the issue names: drivers are 5–50 MB. */
export const FILE_MIB = 50;
const THROUGHPUT_BUDGET = 0.9;
const RSS_BUDGET_MB = 100;
/** A slow link, paced by the server: what a node pulling a driver from a remote mirror sees. */
const LINK = { mib: 16, mibPerSecond: 16 } as const;
const LARGE = 4;

type Who = 'ours' | 'curl';

interface Samples {
  readonly transferMs: Record<Who, number[]>;
  readonly wallMs: Record<Who, number[]>;
  readonly rssMb: Record<Who, number[]>;
}

/**
 * download() (through download-client.cjs: the loader's client, streamed to a temp file, fsynced, renamed; validation
 * off) and `curl -o` fetch the same URL into a cache directory, interleaved. Returns undefined after reporting an
 * error when a run did not produce the whole file.
 */
async function fetchBoth(
  ctx: BenchContext,
  url: string,
  bytes: number,
  plan: { warmup: number; rounds: number },
  afterRun?: (who: Who) => Promise<void>,
): Promise<Samples | undefined> {
  const cache = path.join(ctx.work, 'download-cache');
  const dest = path.join(cache, 'driver.ko');
  const rss: RssProbe | undefined = ctx.time ? { timeBin: ctx.time, file: path.join(ctx.work, 'rss') } : undefined;
  const env = { PATH: '/usr/bin:/bin' };
  const curl = ctx.curl as string;
  const samples: Samples = {
    transferMs: { ours: [], curl: [] },
    wallMs: { ours: [], curl: [] },
    rssMb: { ours: [], curl: [] },
  };
  let failure: string | undefined;
  await interleaved<Who>(['ours', 'curl'], plan, async (who, measured) => {
    rmSync(cache, { recursive: true, force: true });
    const [file, args] =
      who === 'ours'
        ? [process.execPath, [ctx.built.downloadClient, url, dest]]
        : [curl, ['-sS', '--fail', '--create-dirs', '-o', dest, '-w', '%{time_total}', url]];
    const r = runTimed({ file, args, env, timeoutMs: TIMEOUT_MS }, rss);
    const size = existsSync(dest) ? statSync(dest).size : -1;
    if (r.error !== undefined || r.code !== 0 || size !== bytes) {
      failure ??= `${who}: ${r.error ?? `exit ${r.code}`}, ${size} of ${bytes} bytes: ${(r.stderr || r.stdout).trim()}`;
      return;
    }
    if (!measured) return;
    samples.wallMs[who].push(r.ms);
    if (who === 'ours') {
      const out = JSON.parse(r.stdout) as { transferMs: number; maxRssKb: number };
      samples.transferMs.ours.push(out.transferMs);
      // GNU time sees the same ru_maxrss; the client's own figure is the fallback when time is missing.
      samples.rssMb.ours.push((r.rssKb ?? out.maxRssKb) / 1024);
    } else {
      samples.transferMs.curl.push(Number(r.stdout.trim()) * 1000);
      if (r.rssKb !== undefined) samples.rssMb.curl.push(r.rssKb / 1024);
    }
    await afterRun?.(who);
  });
  rmSync(cache, { recursive: true, force: true });
  if (failure !== undefined) ctx.report.note('download', 'error', failure);
  return failure === undefined ? samples : undefined;
}

/**
 * Issue #9 (2): a 50 MiB file from a local HTTP server into the cache, against `curl -o`: throughput ratio and
 * peak RSS; then the same at a slow link's pace, and a 4× larger file to show the peak does not follow the size.
 */
export async function transfer(ctx: BenchContext, origin: string, bytes: number): Promise<void> {
  const section = 'download';
  const { report } = ctx;
  const plan = { warmup: 1, rounds: 7 };
  report.section(
    section,
    `2. Download into the cache from 127.0.0.1, ours vs curl -o (${plan.rounds} interleaved rounds after ${plan.warmup} warm-up)`,
  );
  if (ctx.curl === undefined) {
    report.note(section, 'skipped', 'curl is missing and could not be installed: no reference to compare with');
    return;
  }
  if (ctx.time === undefined) report.note(section, 'skipped', "curl's peak RSS: GNU time (/usr/bin/time) is missing");
  const mib = bytes / MIB;
  ctx.log(`download: ${mib} MiB at full speed × ${plan.warmup + plan.rounds} runs each, ours and curl`);
  const full = await fetchBoth(ctx, `${origin}/file.bin`, bytes, plan);
  if (full === undefined) return;

  const speed = (s: Samples, who: Who, size: number): Stats =>
    mapStats(stats(s.transferMs[who]), (ms) => size / MIB / (ms / 1000));
  const ours = speed(full, 'ours', bytes);
  const theirs = speed(full, 'curl', bytes);
  const ratio = ours.median / theirs.median;
  report.add({ section, label: `${mib} MiB, curl -o: transfer (%{time_total})`, unit: 'MiB/s', stats: theirs });
  report.add({
    section,
    label: `${mib} MiB, download(): transfer (stream, fsync, rename)`,
    unit: 'MiB/s',
    stats: ours,
    ratio: { value: ratio, of: 'curl' },
    budget: {
      rule: `download throughput ${ratio.toFixed(2)}× curl's, ${mib} MiB over loopback (budget ≥ ${THROUGHPUT_BUDGET}×)`,
      pass: ratio >= THROUGHPUT_BUDGET,
    },
  });
  const wall = { ours: stats(full.wallMs.ours), curl: stats(full.wallMs.curl) };
  report.add({ section, label: `${mib} MiB, curl -o: whole process`, unit: 'ms', stats: wall.curl });
  report.add({
    section,
    label: `${mib} MiB, download-client: whole process`,
    unit: 'ms',
    stats: wall.ours,
    ratio: { value: wall.ours.median / wall.curl.median, of: 'curl' },
  });
  if (full.rssMb.curl.length > 0) {
    report.add({ section, label: `${mib} MiB, curl -o: peak RSS`, unit: 'MB', stats: stats(full.rssMb.curl) });
  }
  const peak = stats(full.rssMb.ours);
  report.add({
    section,
    label: `${mib} MiB, download-client: peak RSS`,
    unit: 'MB',
    stats: peak,
    budget: {
      rule: `download peak RSS ${peak.max.toFixed(1)} MB (max of ${peak.n}) for ${mib} MiB (budget < ${RSS_BUDGET_MB} MB)`,
      pass: peak.max < RSS_BUDGET_MB,
    },
  });
  await streamingCheck(ctx, origin, bytes, peak);
  await slowLink(ctx, origin);
  report.note(
    section,
    'note',
    'download-client = node + download() of src/fetch/download.ts, undici loaded before its clock',
  );
  report.note(section, 'note', 'MB = MiB; peak RSS = ru_maxrss of the child (GNU time %M), the Node runtime included');
  report.note(section, 'note', 'download() fsyncs the file before renaming it into the cache; curl -o does not fsync');
  report.note(
    section,
    'note',
    "in flight = sent by the server (its socket buffers included) − on the client's disk; a buffering client holds ≈ the file",
  );
}

/**
 * "It must stream, not buffer", two ways: peak RSS for a file LARGE times bigger (a buffered body adds its size;
 * garbage buffers not yet collected also count), and the server's view of what was in flight (bytes its kernel
 * accepted minus bytes on the client's disk, polled every 5 ms): about the file size for a client that buffers.
 */
async function streamingCheck(ctx: BenchContext, origin: string, bytes: number, small: Stats): Promise<void> {
  const big = LARGE * bytes;
  const cache = path.join(ctx.work, 'download-cache');
  ctx.log(`download: ${big / MIB} MiB × 3 runs each (peak RSS and bytes in flight against the file size)`);
  const inFlight: Record<Who, number[]> = { ours: [], curl: [] };
  const url = `${origin}/gen/${big}?watch=${encodeURIComponent(cache)}`;
  const s = await fetchBoth(ctx, url, big, { warmup: 0, rounds: 3 }, async (who) => {
    // Once more on a failure: a kept-alive socket the server closed while idle (its 5 s keep-alive timeout) fails
    // the first reuse, more often on a busy machine.
    const ask = async () => (await (await fetch(`${origin}/in-flight`)).json()) as { maxBytes: number } | null;
    const seen = await ask().catch(ask);
    if (seen !== null) inFlight[who].push(seen.maxBytes / MIB);
  });
  if (s === undefined) return;
  const st = stats(s.rssMb.ours);
  ctx.report.add({
    section: 'download',
    label: `${big / MIB} MiB, download-client: peak RSS`,
    unit: 'MB',
    stats: st,
    ratio: { value: st.median / small.median, of: `${bytes / MIB} MiB`, extra: `file ${LARGE}× bigger` },
  });
  for (const who of ['curl', 'ours'] as const) {
    const f = stats(inFlight[who]);
    ctx.report.add({
      section: 'download',
      label: `${big / MIB} MiB, ${who === 'ours' ? 'download()' : 'curl -o'}: most bytes in flight`,
      unit: 'MB',
      stats: f,
      ratio: { value: f.max / (big / MIB), of: 'the file (max)' },
    });
  }
}

/** Over a slow link both clients should run at the link's pace: the ratio a remote mirror would show. */
async function slowLink(ctx: BenchContext, origin: string): Promise<void> {
  const bytes = LINK.mib * MIB;
  const rate = LINK.mibPerSecond * MIB;
  ctx.log(`download: ${LINK.mib} MiB paced at ${LINK.mibPerSecond} MiB/s × 3 runs each`);
  const s = await fetchBoth(ctx, `${origin}/gen/${bytes}?rate=${rate}`, bytes, { warmup: 0, rounds: 3 });
  if (s === undefined) return;
  const speed = (who: Who): Stats => mapStats(stats(s.transferMs[who]), (ms) => bytes / MIB / (ms / 1000));
  const [ours, theirs] = [speed('ours'), speed('curl')];
  const label = `${LINK.mib} MiB paced at ${LINK.mibPerSecond} MiB/s (~${Math.round(LINK.mibPerSecond * 8.39)} Mbit/s)`;
  ctx.report.add({ section: 'download', label: `${label}, curl`, unit: 'MiB/s', stats: theirs });
  ctx.report.add({
    section: 'download',
    label: `${label}, download()`,
    unit: 'MiB/s',
    stats: ours,
    ratio: { value: ours.median / theirs.median, of: 'curl' },
  });
}

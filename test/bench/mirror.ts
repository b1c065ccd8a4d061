import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { downloadUrl } from '../../src/artifact/plan.js';
import { moduleFor } from '../kmod/modules.js';
import type { BenchContext } from './context.js';
import { type RssProbe, runTimed, stats } from './measure.js';

/**
 * Issue 19: `falco-driver-loader mirror` for a fleet — 200 plans over 25 distinct kernels (8 nodes per kernel),
 * each driver 4 MiB, from the benchmark's repository process on 127.0.0.1. Cold runs fill a fresh directory; the
 * warm run is the resume (every file present, hashed against SHA256SUMS, nothing fetched).
 */
const PLANS = 200;
const KERNELS = 25;
const FILE_BYTES = 4 * 1024 * 1024;
const VERSION = '7.0.0+driver';
const ARCH = 'x86_64';

export interface MirrorUpstream {
  /** URL path → file, for the repository server's `files`. */
  readonly files: Record<string, string>;
  readonly plans: string;
}

/** The upstream files (a real ELF object, padded: the mirror checks what it stores) and the plans file. */
export function mirrorUpstream(ctx: BenchContext): MirrorUpstream {
  const elf = readFileSync(moduleFor('6.1.0-bench', VERSION));
  const files: Record<string, string> = {};
  const rows: string[] = [];
  for (let i = 0; i < KERNELS; i++) {
    const release = `6.1.${i}-bench`;
    const fileName = `falco_debian_${release}_1.ko`;
    const file = path.join(ctx.work, fileName);
    writeFileSync(file, Buffer.concat([elf, randomBytes(FILE_BYTES - elf.length)]));
    files[new URL(downloadUrl('http://x', VERSION, ARCH, fileName)).pathname] = file;
  }
  for (let n = 0; n < PLANS; n++) {
    const i = n % KERNELS;
    // Half as --dry-run --json documents, half as rows: both parsers are in the figure.
    rows.push(
      n % 2 === 0
        ? JSON.stringify({
            schemaVersion: 1,
            host: { name: { value: `node-${n}`, source: 'environment (NODE_NAME)' } },
            target: { targetId: 'debian', fixedKernelRelease: `6.1.${i}-bench`, fixedKernelVersion: '1', arch: ARCH },
            driver: { kind: 'kmod', name: { value: 'falco', source: 'x' }, version: { value: VERSION, source: 'x' } },
          })
        : `debian 6.1.${i}-bench 1 ${ARCH} falco ${VERSION}`,
    );
  }
  const plans = path.join(ctx.work, 'plans.jsonl');
  writeFileSync(plans, `${rows.join('\n')}\n`);
  return { files, plans };
}

export async function mirrorBench(ctx: BenchContext, origin: string, upstream: MirrorUpstream): Promise<void> {
  const section = 'mirror';
  const { report } = ctx;
  const rounds = 3;
  report.section(
    section,
    `6. Mirror ${PLANS} plans (${KERNELS} distinct 4 MiB drivers) from 127.0.0.1, ${rounds} rounds`,
  );
  const rss: RssProbe | undefined = ctx.time ? { timeBin: ctx.time, file: path.join(ctx.work, 'rss') } : undefined;
  const out = path.join(ctx.work, 'mirror');
  const cmd = {
    file: process.execPath,
    args: [ctx.bundle, 'mirror', '--plans', upstream.plans, '--out', out, '--repo', origin],
    env: { PATH: '/usr/bin:/bin', HOME: path.join(ctx.work, 'home') },
    timeoutMs: 120_000,
  };
  const cold: number[] = [];
  const coldRss: number[] = [];
  const warm: number[] = [];
  const warmRss: number[] = [];
  for (let r = 0; r < rounds; r++) {
    rmSync(out, { recursive: true, force: true });
    ctx.log(`mirror: cold round ${r + 1}/${rounds}`);
    const c = runTimed(cmd, rss);
    if (c.error !== undefined || c.code !== 0) {
      report.note(section, 'error', `mirror exited ${c.code}: ${c.error ?? c.stderr.split('\n').slice(-3).join(' ')}`);
      return;
    }
    cold.push(c.ms / 1000);
    if (c.rssKb !== undefined) coldRss.push(c.rssKb / 1024);
    ctx.log(`mirror: warm round ${r + 1}/${rounds}`);
    const w = runTimed(cmd, rss);
    if (w.error !== undefined || w.code !== 0 || !w.stderr.includes('* present')) {
      report.note(section, 'error', `resumed mirror run exited ${w.code}: ${w.error ?? ''}`);
      return;
    }
    warm.push(w.ms / 1000);
    if (w.rssKb !== undefined) warmRss.push(w.rssKb / 1024);
  }
  report.add({
    section,
    label: `cold: ${PLANS} plans → ${KERNELS} files, whole process`,
    unit: 's',
    stats: stats(cold),
  });
  if (coldRss.length > 0) report.add({ section, label: 'cold: peak RSS', unit: 'MB', stats: stats(coldRss) });
  const ratio = stats(warm).median / stats(cold).median;
  report.add({
    section,
    label: 'resume (all present: hashed, nothing fetched)',
    unit: 's',
    stats: stats(warm),
    ratio: { value: ratio, of: 'cold' },
  });
  if (warmRss.length > 0) report.add({ section, label: 'resume: peak RSS', unit: 'MB', stats: stats(warmRss) });
  report.note(
    section,
    'note',
    `concurrency 4 (the default); ${(KERNELS * FILE_BYTES) / 1048576} MiB fetched per cold run`,
  );
}

import { readdirSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { readSmallFile } from '../host/distro.js';
import { run, which } from '../system/exec.js';
import { type KmodSession, say, sys } from './session.js';

export interface Gcc {
  readonly path: string;
  /** Major version, from the `install:` directory (`/usr/lib/gcc/x86_64-linux-gnu/12/` → 12). */
  readonly major: number | undefined;
}

/** `gcc`, `gcc-12`, `gcc-4.9`; not `gcc-ar`, `gcc-nm`, `gcc-ranlib`. */
const GCC_NAME = /^gcc(-[0-9.]+)?$/;

/**
 * The compilers DKMS is tried with (0.34+, §B.6.4 step 4): every gcc* beside `which gcc` that answers
 * `-print-search-dirs` with an `install:` line (printed, as legacy did: users' logs show them). The compiler that
 * built the running kernel goes first (a module built by another major often fails or misbehaves); the rest
 * follow in `ls` order. Two names for one binary (Debian's gcc → gcc-12) are tried once.
 */
export async function gccCandidates(s: KmodSession): Promise<Gcc[]> {
  const gcc = which('gcc', s.ctx.env);
  if (gcc === undefined) return [];
  const dir = path.dirname(gcc);
  const seen = new Set<string>();
  const found: Gcc[] = [];
  for (const name of listGccNames(dir)) {
    const file = path.join(dir, name);
    const real = realPath(file);
    if (seen.has(real)) continue;
    seen.add(real);
    const result = await run(file, ['-print-search-dirs'], { env: s.ctx.env, timeoutMs: 15_000, signal: s.signal });
    const install = result.exitCode === 0 ? result.stdout.split('\n').find((l) => l.includes('install:')) : undefined;
    if (install === undefined) continue;
    say(s, install);
    found.push({ path: file, major: installMajor(install) });
  }
  const kernelMajor = kernelGccMajor(readSmallFile(sys(s, '/proc/version')) ?? '');
  return orderByKernelGcc(found, kernelMajor);
}

/** The gcc* names in `dir`, in `ls` order (also what --dry-run lists, without running them). */
export function listGccNames(dir: string): string[] {
  try {
    // Code-unit order is `ls` order in the C locale for these ASCII names.
    return readdirSync(dir)
      .filter((n) => GCC_NAME.test(n))
      .sort();
  } catch {
    return [];
  }
}

function realPath(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}

export function installMajor(installLine: string): number | undefined {
  const dir = /install:\s*(\S+)/.exec(installLine)?.[1] ?? '';
  const last =
    dir
      .split('/')
      .filter((p) => p !== '')
      .pop() ?? '';
  const major = /^([0-9]+)/.exec(last)?.[1];
  return major === undefined ? undefined : Number(major);
}

/**
 * The gcc major that built the running kernel, from /proc/version: `gcc version 8.5.0` (RHEL 8), `gcc-12 (Debian …)`,
 * `gcc (GCC) 11.4.1` (Fedora, Amazon Linux), `gcc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0`.
 */
export function kernelGccMajor(procVersion: string): number | undefined {
  const patterns = [
    /gcc version ([0-9]+)/,
    /\(GCC\) ([0-9]+)/,
    /gcc-([0-9]+)/,
    /\bgcc \((?:[^()]|\([^()]*\))*\) ([0-9]+)/,
  ];
  for (const pattern of patterns) {
    const major = pattern.exec(procVersion)?.[1];
    if (major !== undefined) return Number(major);
  }
  return undefined;
}

export function orderByKernelGcc(gccs: readonly Gcc[], kernelMajor: number | undefined): Gcc[] {
  if (kernelMajor === undefined) return [...gccs];
  return [...gccs.filter((g) => g.major === kernelMajor), ...gccs.filter((g) => g.major !== kernelMajor)];
}

import { lstat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ELF_TYPE, isElf, machineForArch, readElf } from '../artifact/elf.js';
import { bpfObjectProblem } from '../ebpf/verify.js';
import { type ChecksumPolicy, downloadVerified, parseSums, SUMS_FILE, sha256File } from '../fetch/checksums.js';
import type { DownloadOptions } from '../fetch/download.js';
import { redact } from '../fetch/redact.js';
import type { DownloadSettings } from '../fetch/types.js';
import type { NeededFile } from './plans.js';

export type FileState = 'present' | 'fetched' | 'missing' | 'failed';

export interface FileOutcome {
  readonly file: NeededFile;
  readonly state: FileState;
  /** Bytes fetched (0 when present already), or why it is missing/failed. */
  readonly bytes: number;
  readonly detail: string;
  /** The upstream host it came from, or the last one asked. */
  readonly origin: string | undefined;
}

export interface FetchContext {
  readonly out: string;
  readonly settings: DownloadSettings;
  readonly options: Partial<DownloadOptions>;
  readonly policy: ChecksumPolicy;
  readonly log: (line: string) => void;
}

/**
 * One needed file. Resumable: a file already in the mirror is kept without a request, unless the mirror's own
 * SHA256SUMS says it is not what was fetched (then it is fetched again). Otherwise each upstream in order; 404s
 * mean "missing upstream", anything else that fails everywhere is "failed".
 */
export async function fetchOne(file: NeededFile, ctx: FetchContext): Promise<FileOutcome> {
  const destination = path.join(ctx.out, file.key);
  if (await keep(destination))
    return { file, state: 'present', bytes: 0, detail: 'already in the mirror', origin: undefined };
  let failure: { detail: string; origin: string } | undefined;
  let missing: { detail: string; origin: string } | undefined;
  for (const url of file.urls) {
    const origin = redact(new URL(url).host);
    const retries: string[] = [];
    const result = await downloadVerified(
      {
        url,
        destination,
        validate: (temp) => artifactProblem(temp, file),
        log: (line) => {
          if (line.includes('retrying')) retries.push(line.replace(/^\* /, ''));
        },
      },
      ctx.settings,
      ctx.options,
      ctx.policy,
    );
    for (const line of retries) ctx.log(`  ${file.key}: ${line}`);
    if (result.ok) return { file, state: 'fetched', bytes: result.bytes, detail: 'fetched', origin };
    if (result.kind === 'not-found') missing = { detail: result.reason, origin };
    else failure = { detail: result.reason, origin };
    if (result.kind === 'io') break; // the mirror directory cannot be written: no upstream changes that
  }
  if (failure !== undefined) return { file, state: 'failed', bytes: 0, ...failure };
  return {
    file,
    state: 'missing',
    bytes: 0,
    detail: missing?.detail ?? 'no upstream repository',
    origin: missing?.origin,
  };
}

/** A complete regular file, not contradicted by the SHA256SUMS the last run wrote. */
async function keep(destination: string): Promise<boolean> {
  const info = await lstat(destination).catch(() => undefined);
  if (info === undefined || !info.isFile()) return false;
  const sums = await readFile(path.join(path.dirname(destination), SUMS_FILE), 'utf8').catch(() => '');
  const recorded = parseSums(sums).get(path.basename(destination));
  return recorded === undefined || recorded === (await sha256File(destination));
}

/** What the loader would refuse anyway is not mirrored: error pages, modules for another arch, wrong ELF kinds. */
export async function artifactProblem(temp: string, file: NeededFile): Promise<string | undefined> {
  if (file.fileName.endsWith('.o')) return bpfObjectProblem(temp);
  const data = await readFile(temp);
  if (!isElf(data)) {
    return data.subarray(0, 64).toString('latin1').trimStart().startsWith('<')
      ? 'it is an HTML/XML page, not a kernel module (an error page served as a file?)'
      : 'it is not an ELF file';
  }
  try {
    const elf = readElf(data);
    if (elf.type !== ELF_TYPE.REL) return 'it is not a relocatable ELF object (a kernel module is one)';
    const machine = machineForArch(file.arch);
    if (machine !== undefined && elf.machine !== machine) {
      return `it is built for another machine (ELF machine ${elf.machine}, ${file.arch} is ${machine})`;
    }
  } catch (error) {
    return `it is a damaged ELF file (${(error as Error).message})`;
  }
  return undefined;
}

/** Runs `work` over `items` with at most `limit` at a time; results in input order. */
export async function pool<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

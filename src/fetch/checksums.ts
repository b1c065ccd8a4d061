import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { checksumMsg } from '../cli/messages.js';
import type { DownloadOptions } from './download.js';
import { download } from './download.js';
import { redact } from './redact.js';
import type { DownloadRequest, DownloadResult, DownloadSettings, Received } from './types.js';

/**
 * SHA256SUMS beside the driver files (issue 19, legacy-loader.md §D row 7): `<repo>/<version>/<arch>/SHA256SUMS`
 * in `sha256sum` format. The mirror mode writes one in every directory; a repository that serves one gets every
 * download from it verified, and FALCO_DRIVER_LOADER_REQUIRE_CHECKSUM turns "when served" into "always".
 */
export const SUMS_FILE = 'SHA256SUMS';

/** A sums file is a few lines per kernel; anything this large is not one. */
const SUMS_MAX_BYTES = 16 * 1024 * 1024;

export interface ChecksumPolicy {
  /** Refuse a download that no SHA256SUMS vouches for. */
  readonly required: boolean;
  /** Where the sums file is fetched to (then read and removed). */
  readonly tmpdir: string;
  /** One lookup per SHA256SUMS URL for a run that downloads many files from one directory (the mirror mode). */
  readonly memo?: Map<string, Promise<SumsLookup>>;
}

/** `sha256sum` output: `<64 hex>  <name>` or `<64 hex> *<name>` (binary mode); anything else is ignored. */
export function parseSums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([0-9a-fA-F]{64}) [ *](.+?)\r?$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) sums.set(m[2], m[1].toLowerCase());
  }
  return sums;
}

export function formatSums(sums: ReadonlyMap<string, string>): string {
  return [...sums.keys()]
    .sort()
    .map((name) => `${sums.get(name)}  ${name}\n`)
    .join('');
}

/** The SHA256SUMS URL in the same directory as a file URL (query and credentials kept: same repository). */
export function sumsUrlFor(fileUrl: string): string {
  const url = new URL(fileUrl);
  url.pathname = url.pathname.replace(/[^/]*$/, SUMS_FILE);
  return url.href;
}

/**
 * The digest of a finished download. Kept apart so a digest computed while the body streams in (issue 17) can
 * replace this second read without touching the callers.
 */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export type SumsLookup =
  | { readonly state: 'present'; readonly sums: Map<string, string> }
  | { readonly state: 'absent' | 'unavailable'; readonly reason: string };

/** Fetches a SHA256SUMS with the download rules of the loader (timeouts, retries, proxies, TLS). */
export async function fetchSums(
  url: string,
  settings: DownloadSettings,
  options: Partial<DownloadOptions>,
  tmpdir: string,
  signal?: AbortSignal,
): Promise<SumsLookup> {
  let dir: string;
  try {
    dir = await mkdtemp(path.join(tmpdir, 'falco-sums-'));
  } catch (error) {
    return { state: 'unavailable', reason: `cannot create a temp dir in ${tmpdir}: ${(error as Error).message}` };
  }
  try {
    const destination = path.join(dir, SUMS_FILE);
    const result = await download(
      { url, destination, log: () => undefined, ...(signal ? { signal } : {}) },
      { ...settings, maxBytes: Math.min(settings.maxBytes, SUMS_MAX_BYTES) },
      { ...options, terminal: undefined },
    );
    if (!result.ok) return { state: result.kind === 'not-found' ? 'absent' : 'unavailable', reason: result.reason };
    return { state: 'present', sums: parseSums(await readFile(destination, 'utf8')) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function lookupSums(
  url: string,
  settings: DownloadSettings,
  options: Partial<DownloadOptions>,
  policy: ChecksumPolicy,
  signal: AbortSignal | undefined,
): Promise<SumsLookup> {
  const known = policy.memo?.get(url);
  if (known !== undefined) return known;
  const lookup = fetchSums(url, settings, options, policy.tmpdir, signal);
  policy.memo?.set(url, lookup);
  return lookup;
}

/**
 * download(), then — before the file is renamed into place — its SHA256 against the SHA256SUMS beside it. A
 * mismatch (or, when required, no entry) is an 'invalid' result with one line: the caller's "next source" path.
 * The sums are fetched only after the file itself arrived, so a repository without the driver costs one request.
 */
export async function downloadVerified(
  request: DownloadRequest,
  settings: DownloadSettings,
  options: Partial<DownloadOptions>,
  policy: ChecksumPolicy,
): Promise<DownloadResult> {
  const fileName = path.basename(request.destination);
  const sumsUrl = sumsUrlFor(request.url);
  const validate = async (tempPath: string, received: Received): Promise<string | undefined> => {
    const earlier = await request.validate?.(tempPath, received);
    if (earlier !== undefined) return earlier;
    const lookup = await lookupSums(sumsUrl, settings, options, policy, request.signal);
    const expected = lookup.state === 'present' ? lookup.sums.get(fileName) : undefined;
    if (expected === undefined) {
      const why = lookup.state === 'present' ? checksumMsg.noEntry(fileName) : lookup.reason;
      if (policy.required) return checksumMsg.required(redact(sumsUrl), why);
      if (lookup.state === 'unavailable') request.log(checksumMsg.notVerified(redact(sumsUrl), why));
      return undefined;
    }
    // Hashed while the bytes arrived (issue #17: one pass over the data); the file is read again only if not.
    const actual = received.sha256 ?? (await sha256File(tempPath));
    if (actual !== expected) return checksumMsg.mismatch(fileName, actual, expected, redact(sumsUrl));
    request.log(checksumMsg.verified(redact(sumsUrl)));
    return undefined;
  };
  return download({ ...request, digest: 'sha256', validate }, settings, options);
}

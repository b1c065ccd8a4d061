import { readdirSync } from 'node:fs';
import path from 'node:path';
import { type DownloadOptions, download } from '../../src/fetch/download.js';
import type { DownloadRequest, DownloadResult, DownloadSettings } from '../../src/fetch/types.js';
import { tempDir } from '../helpers/tmp.js';

/** Small limits so every failure path ends in well under a second or two. */
export const FAST: DownloadSettings = {
  insecure: false,
  headers: [],
  connectTimeoutMs: 500,
  maxTimeMs: 3_000,
  retries: 2,
  retryMaxTimeMs: 3_000,
  maxBytes: 1024 * 1024,
  caFile: undefined,
  proxy: undefined,
  proxyUser: undefined,
  user: undefined,
};

/** No proxy variables from the machine running the tests; short backoff and idle timeout. */
export const FAST_OPTIONS: DownloadOptions = { env: {}, backoffMs: 50, idleTimeoutMs: 700, terminal: undefined };

export interface Fetched {
  result: DownloadResult;
  log: string[];
  dir: string;
  destination: string;
  ms: number;
}

/** Downloads into a fresh temp dir (under a not-yet-existing subdirectory, like the cache). */
export async function fetchTo(
  url: string,
  settings: Partial<DownloadSettings> = {},
  extra: Partial<Omit<DownloadRequest, 'url' | 'log'>> & { options?: Partial<DownloadOptions> } = {},
): Promise<Fetched> {
  const dir = path.join(tempDir('fdl-dl-'), 'cache', 'x86_64');
  const destination = extra.destination ?? path.join(dir, 'falco_test_1.ko');
  const log: string[] = [];
  const started = performance.now();
  const { options, ...rest } = extra;
  const result = await download(
    { url, ...rest, destination, log: (line) => log.push(line) },
    { ...FAST, ...settings },
    { ...FAST_OPTIONS, ...options },
  );
  return { result, log, dir: path.dirname(destination), destination, ms: performance.now() - started };
}

/** Files in a directory (empty when it does not exist): proves no .part file was left behind. */
export function filesIn(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

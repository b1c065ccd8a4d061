/**
 * `node download-client.cjs <url> <destination>`: one call of the loader's download() (src/fetch/download.ts, undici,
 * the legacy curl bounds) with validation off, as the benchmark's pure-throughput subject. undici is loaded before
 * the clock starts, so `transferMs` is request + streamed body + fsync + rename, comparable with curl's
 * %{time_total}; the process's wall time (measured outside) includes everything else.
 */
import { download } from '../../src/fetch/download.js';
import { DOWNLOAD_DEFAULTS } from '../../src/fetch/settings.js';
import type { DownloadSettings } from '../../src/fetch/types.js';

const settings: DownloadSettings = {
  ...DOWNLOAD_DEFAULTS,
  insecure: false,
  headers: [],
  caFile: undefined,
  proxy: undefined,
  proxyUser: undefined,
  user: undefined,
};

async function main(): Promise<void> {
  const [url, destination] = process.argv.slice(2);
  if (url === undefined || destination === undefined) throw new Error('usage: download-client <url> <destination>');
  await import('undici');
  const started = performance.now();
  const result = await download({ url, destination, log: () => undefined }, settings, { env: {} });
  const transferMs = performance.now() - started;
  process.stdout.write(`${JSON.stringify({ ...result, transferMs, maxRssKb: process.resourceUsage().maxRSS })}\n`);
  process.exitCode = result.ok ? 0 : 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`download-client: ${String(error)}\n`);
  process.exitCode = 2;
});

import type { Settings } from '../cli/settings.js';
import { UserError } from '../errors.js';
import { parseCurlOptions } from './curlOptions.js';
import { parseHeaderList } from './headers.js';
import type { DownloadSettings } from './types.js';

/** The legacy script's curl options (legacy-loader.md §B.1.6): `--connect-timeout 5 --max-time 60 --retry 3 --retry-max-time 120`. */
export const DOWNLOAD_DEFAULTS = {
  connectTimeoutMs: 5_000,
  maxTimeMs: 60_000,
  retries: 3,
  retryMaxTimeMs: 120_000,
  /**
   * curl had no size limit; one is kept so a misbehaving mirror cannot fill the disk. Prebuilt drivers are a few MB
   * and kernel-source tarballs a few hundred; FALCO_DRIVER_LOADER_MAX_DOWNLOAD_BYTES (a whole number of bytes)
   * raises or lowers it.
   */
  maxBytes: 512 * 1024 * 1024,
} as const;

const MAX_BYTES_VARIABLE = 'FALCO_DRIVER_LOADER_MAX_DOWNLOAD_BYTES';

/**
 * Download settings for every flow: the legacy defaults, then DRIVER_INSECURE_DOWNLOAD/--http-insecure and
 * --http-headers/FALCOCTL_DRIVER_HTTP_HEADERS, then DRIVER_CURL_OPTIONS on top (it was appended after the defaults,
 * so its values won in curl too). Warnings about options that cannot be honoured go to `warn`, one line each.
 */
export function downloadSettingsFrom(
  settings: Pick<Settings, 'curlOptions' | 'insecure' | 'httpHeaders'>,
  env: NodeJS.ProcessEnv,
  warn: (line: string) => void,
): DownloadSettings {
  const { options, warnings } = parseCurlOptions(settings.curlOptions);
  for (const line of warnings) warn(line);
  const { headers: curlHeaders = [], insecure: curlInsecure = false, ...rest } = options;
  return {
    ...DOWNLOAD_DEFAULTS,
    maxBytes: maxBytesFrom(env),
    caFile: undefined,
    proxy: undefined,
    proxyUser: undefined,
    user: undefined,
    ...rest,
    insecure: settings.insecure || curlInsecure,
    headers: [...parseHeaderList(settings.httpHeaders), ...curlHeaders],
  };
}

function maxBytesFrom(env: NodeJS.ProcessEnv): number {
  const text = env[MAX_BYTES_VARIABLE];
  if (text === undefined || text === '') return DOWNLOAD_DEFAULTS.maxBytes;
  if (!/^[1-9]\d{0,15}$/.test(text)) {
    throw new UserError(
      `${MAX_BYTES_VARIABLE} must be a whole number of bytes such as 1073741824, got '${text.slice(0, 32)}'`,
    );
  }
  return Number(text);
}

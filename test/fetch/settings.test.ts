import { describe, expect, it } from 'vitest';
import type { Settings } from '../../src/cli/settings.js';
import { UserError } from '../../src/errors.js';
import { DOWNLOAD_DEFAULTS, downloadSettingsFrom } from '../../src/fetch/settings.js';

/** Only the fields downloadSettingsFrom reads; the rest of Settings is irrelevant here. */
function settings(over: { insecure?: boolean; curlOptions?: string; httpHeaders?: string } = {}): Settings {
  return { insecure: false, curlOptions: '', httpHeaders: undefined, ...over } as unknown as Settings;
}

function resolve(over: Parameters<typeof settings>[0] = {}, env: NodeJS.ProcessEnv = {}) {
  const warnings: string[] = [];
  const result = downloadSettingsFrom(settings(over), env, (line) => warnings.push(line));
  return { result, warnings };
}

describe('downloadSettingsFrom', () => {
  it('starts from the legacy curl options', () => {
    expect(resolve()).toEqual({
      result: {
        insecure: false,
        headers: [],
        connectTimeoutMs: 5_000,
        maxTimeMs: 60_000,
        retries: 3,
        retryMaxTimeMs: 120_000,
        maxBytes: 512 * 1024 * 1024,
        caFile: undefined,
        proxy: undefined,
        proxyUser: undefined,
        user: undefined,
      },
      warnings: [],
    });
    expect(DOWNLOAD_DEFAULTS.maxBytes).toBe(536_870_912);
  });

  it('takes insecure from the settings or from curl -k', () => {
    expect(resolve({ insecure: true }).result.insecure).toBe(true);
    expect(resolve({ curlOptions: '-k' }).result.insecure).toBe(true);
  });

  it('puts --http-headers first, then the curl -H headers', () => {
    const { result } = resolve({ httpHeaders: 'A: 1,B: 2', curlOptions: "-H 'C: 3'" });
    expect(result.headers).toEqual([
      ['A', '1'],
      ['B', '2'],
      ['C', '3'],
    ]);
  });

  it('lets DRIVER_CURL_OPTIONS override the defaults, and passes its warnings on', () => {
    const { result, warnings } = resolve({
      curlOptions:
        '-m 300 --retry 0 --connect-timeout 1 --retry-max-time 5 -x proxy:3128 -U a:b -u c:d --cacert /ca.pem --limit-rate 1M',
    });
    expect(result).toMatchObject({
      maxTimeMs: 300_000,
      retries: 0,
      connectTimeoutMs: 1_000,
      retryMaxTimeMs: 5_000,
      proxy: 'proxy:3128',
      proxyUser: 'a:b',
      user: 'c:d',
      caFile: '/ca.pem',
    });
    expect(warnings).toEqual(['DRIVER_CURL_OPTIONS: ignoring --limit-rate 1M (not supported by falco-driver-loader)']);
  });

  it('reads the size limit from FALCO_DRIVER_LOADER_MAX_DOWNLOAD_BYTES', () => {
    expect(resolve({}, { FALCO_DRIVER_LOADER_MAX_DOWNLOAD_BYTES: '1048576' }).result.maxBytes).toBe(1_048_576);
    expect(resolve({}, { FALCO_DRIVER_LOADER_MAX_DOWNLOAD_BYTES: '' }).result.maxBytes).toBe(
      DOWNLOAD_DEFAULTS.maxBytes,
    );
    for (const bad of ['0', '1M', '-5', '1.5']) {
      expect(() => resolve({}, { FALCO_DRIVER_LOADER_MAX_DOWNLOAD_BYTES: bad })).toThrow(UserError);
    }
  });

  it('surfaces bad input as one-line user errors', () => {
    expect(() => resolve({ curlOptions: '-H "unterminated' })).toThrow(/unbalanced quote/);
    expect(() => resolve({ httpHeaders: 'nocolon' })).toThrow(UserError);
  });
});

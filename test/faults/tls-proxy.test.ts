import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { closedPort, driverRequests } from '../helpers/httpServer.js';
import { makeCerts } from './certs.js';
import {
  expectLine,
  FAST_CURL,
  FaultHost,
  goodServer,
  isRoot,
  MARGIN_MS,
  PER_REPO_MS,
  runLoader,
  tried,
  URL_PATH,
} from './harness.js';
import { startFaultProxy } from './proxy.js';

/** `--cacert <our CA>` on top of the fast timeouts: only what is wrong with each certificate can fail it. */
function trustingEnv(k: FaultHost, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const caFile = path.join(k.tmp, 'ca.pem');
  writeFileSync(caFile, makeCerts().ca);
  return k.env({ DRIVER_CURL_OPTIONS: `${FAST_CURL} --cacert ${caFile}`, ...extra });
}

const INSECURE: ReadonlyArray<readonly [string, string[], (curl: string) => NodeJS.ProcessEnv]> = [
  ['DRIVER_INSECURE_DOWNLOAD=1', [], () => ({ DRIVER_INSECURE_DOWNLOAD: '1' })],
  ['--http-insecure', ['--http-insecure'], () => ({})],
  ["curl's -k in DRIVER_CURL_OPTIONS", [], (curl) => ({ DRIVER_CURL_OPTIONS: `${curl} -k` })],
];

describe.runIf(isRoot)('TLS faults', () => {
  it('our CA is trusted: the valid certificate works (the control case)', async () => {
    const k = new FaultHost();
    const server = await goodServer(k, { tls: makeCerts().good });
    const result = await runLoader([], trustingEnv(k, { DRIVERS_REPO: server.origin }));
    expect(result.stderr).not.toContain('Download failed');
    expect(result.code).toBe(0);
    k.expectCache('valid');
  });

  it.each([
    ['a certificate for another host', 'wrongHost', /Hostname\/IP does not match certificate's altnames/],
    ['an expired certificate', 'expired', /certificate has expired/],
  ] as const)('%s: refused in one line, not retried, the next repository is used', async (_name, which, why) => {
    const k = new FaultHost();
    const bad = await goodServer(k, { tls: makeCerts()[which] });
    const good = await goodServer(k);
    const result = await runLoader([], trustingEnv(k, { DRIVERS_REPO: `${bad.origin},${good.origin}` }));
    expect(result.ms).toBeLessThan(PER_REPO_MS + MARGIN_MS);
    expectLine(
      result.stderr,
      /^Download failed: TLS certificate problem: .+ \(trust its CA with --cacert in DRIVER_CURL_OPTIONS or NODE_EXTRA_CA_CERTS\)$/,
    );
    expect(result.stderr).toMatch(why);
    expect(result.stderr).not.toContain('retrying');
    expect(result.stdout).toContain(`${tried(`${bad.origin}${URL_PATH}`)}\n${tried(`${good.origin}${URL_PATH}`)}\n`);
    expect(bad.requests).toHaveLength(0); // the handshake failed: no request was ever sent
    expect(result.code).toBe(0);
    k.expectCache('valid');
  });

  it.each(['wrongHost', 'expired'] as const)(
    'the %s certificate is accepted only when insecure is asked',
    async (which) => {
      for (const [how, argv, env] of INSECURE) {
        const k = new FaultHost();
        const server = await goodServer(k, { tls: makeCerts()[which] });
        const result = await runLoader(argv, k.env({ DRIVERS_REPO: server.origin, ...env(FAST_CURL) }));
        expect(result.stderr, how).not.toContain('Download failed');
        expect(result.code, how).toBe(0);
        k.expectCache('valid');
      }
    },
  );
});

describe.runIf(isRoot)('proxy faults', () => {
  it('a proxy that refuses: one line per repository, then the next source (modprobe), exit 1', async () => {
    const k = new FaultHost();
    const proxy = await startFaultProxy({ kind: 'refuse' });
    const server = await goodServer(k, { tls: makeCerts().good });
    const repos = `${server.origin}/a,${server.origin}/b`;
    const result = await runLoader(['--download'], trustingEnv(k, { DRIVERS_REPO: repos, HTTPS_PROXY: proxy.origin }));
    expect(result.ms).toBeLessThan(2 * PER_REPO_MS + MARGIN_MS);
    const refused = result.stderr
      .split('\n')
      .filter((l) => l === 'Download failed: proxy error: the proxy answered HTTP 403 Forbidden');
    expect(refused).toHaveLength(2);
    expect(result.stdout).toMatch(/\* Trying to load a system falco module, if present\n$/);
    expect(result.code).toBe(1);
    expect(server.requests).toHaveLength(0);
    expect(proxy.requests.map((r) => r.method)).toEqual(['CONNECT', 'CONNECT']);
    k.expectCache('empty');
  });

  it('a proxy that is not listening: connection refused names the proxy, retried once', async () => {
    const k = new FaultHost();
    const port = await closedPort();
    const server = await goodServer(k);
    const result = await runLoader(
      ['--download'],
      k.env({ DRIVERS_REPO: server.origin, HTTP_PROXY: `127.0.0.1:${port}` }),
    );
    expect(result.ms).toBeLessThan(PER_REPO_MS + MARGIN_MS);
    expectLine(result.stderr, new RegExp(`^Download failed: connection refused by 127\\.0\\.0\\.1:${port}$`));
    expect(result.code).toBe(1);
    expect(server.requests).toHaveLength(0);
    k.expectCache('empty');
  });

  it.each([
    ['https, through CONNECT', true],
    ['http, as an absolute-URI request', false],
  ])('a proxy with auth (%s): 407 without credentials, through with them, never printed', async (_name, tls) => {
    const k = new FaultHost();
    const proxy = await startFaultProxy({ kind: 'auth', userPass: 'proxyuser:pr0xy-s3cret' });
    const server = await goodServer(k, tls ? { tls: makeCerts().good } : {});
    const variable = tls ? 'HTTPS_PROXY' : 'HTTP_PROXY';
    const without = await runLoader(
      ['--download'],
      trustingEnv(k, { DRIVERS_REPO: server.origin, [variable]: proxy.origin }),
    );
    expectLine(
      without.stderr,
      /^Download failed: proxy error: the proxy answered HTTP 407 Proxy Authentication Required: give it user:password@ in HTTPS_PROXY\/HTTP_PROXY, or -U in DRIVER_CURL_OPTIONS$/,
    );
    expect(without.ms).toBeLessThan(PER_REPO_MS + MARGIN_MS);
    expect(without.stderr).not.toContain('retrying'); // credentials will not appear by themselves
    expect(without.stdout).toMatch(/\* Trying to load a system falco module, if present\n$/);
    expect(without.code).toBe(1);
    k.expectCache('empty');

    const withAuth = proxy.origin.replace('http://', 'http://proxyuser:pr0xy-s3cret@');
    const result = await runLoader([], trustingEnv(k, { DRIVERS_REPO: server.origin, [variable]: withAuth }));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('* Download succeeded\n');
    expect(`${without.stdout}${without.stderr}${result.stdout}${result.stderr}`).not.toContain('pr0xy-s3cret');
    expect(driverRequests(server)).toHaveLength(1);
    expect(server.requests[0]?.headers['proxy-authorization']).toBeUndefined();
    k.expectCache('valid');
  });

  it('NO_PROXY bypasses a proxy that would refuse', async () => {
    const k = new FaultHost();
    const proxy = await startFaultProxy({ kind: 'refuse' });
    const server = await goodServer(k);
    const env = { DRIVERS_REPO: server.origin, HTTP_PROXY: proxy.origin, HTTPS_PROXY: proxy.origin };
    const refused = await runLoader(['--download'], k.env(env));
    // Through a proxy, plain http is an absolute-URI GET: the proxy's 403 reads like the server's, as with curl.
    expectLine(refused.stderr, /^Download failed: HTTP 403 Forbidden$/);
    expect(refused.ms).toBeLessThan(PER_REPO_MS + MARGIN_MS);
    expect(refused.code).toBe(1);
    expect(proxy.requests).toHaveLength(1);
    k.expectCache('empty');

    const result = await runLoader([], k.env({ ...env, NO_PROXY: 'mirror.example,127.0.0.1' }));
    expect(result.code).toBe(0);
    expect(proxy.requests).toHaveLength(1);
    expect(driverRequests(server)).toHaveLength(1);
    k.expectCache('valid');
  });
});

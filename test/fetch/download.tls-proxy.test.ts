import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { selfSignedCert, startProxy, startServer, type TestServer } from '../helpers/httpServer.js';
import { tempDir } from '../helpers/tmp.js';
import { fetchTo, filesIn } from './helpers.js';

const ok = async (tls?: { key: string; cert: string }): Promise<TestServer> =>
  startServer((_req, res) => res.end('module bytes'), tls);

function caFileFor(cert: string): string {
  const file = path.join(tempDir('fdl-ca-'), 'mirror-ca.pem');
  writeFileSync(file, cert);
  return file;
}

describe('download over https', () => {
  it('rejects a self-signed certificate by default, saying why, without retrying', async () => {
    const server = await ok(selfSignedCert());
    const got = await fetchTo(`${server.origin}/x.ko`);
    expect(got.result).toMatchObject({ ok: false, kind: 'network', reason: expect.stringMatching(/certificate/) });
    expect(got.log.some((l) => l.includes('retrying'))).toBe(false);
  });

  it('accepts it when insecure', async () => {
    const server = await ok(selfSignedCert());
    const got = await fetchTo(`${server.origin}/x.ko`, { insecure: true });
    expect(got.result).toEqual({ ok: true, bytes: 12 });
  });

  it('accepts it when its CA is given with caFile', async () => {
    const { key, cert } = selfSignedCert();
    const server = await ok({ key, cert });
    const got = await fetchTo(`${server.origin}/x.ko`, { caFile: caFileFor(cert) });
    expect(got.result).toEqual({ ok: true, bytes: 12 });
    expect(readFileSync(got.destination, 'utf8')).toBe('module bytes');
  });

  it('refuses an https → http redirect (a downgrade), unless insecure was asked (issue #13)', async () => {
    const { key, cert } = selfSignedCert();
    const plain = await startServer((_req, res) => res.end('module bytes'));
    const server = await startServer((_req, res) => res.writeHead(302, { location: `${plain.origin}/y` }).end(), {
      key,
      cert,
    });
    const got = await fetchTo(`${server.origin}/x.ko`, { caFile: caFileFor(cert) });
    expect(got.result).toEqual({
      ok: false,
      kind: 'http',
      reason: `refusing the redirect from https to plain http (127.0.0.1:${plain.port}): use an https location`,
    });
    expect(plain.requests).toHaveLength(0);
    expect(filesIn(got.dir)).toEqual([]);
    const insecure = await fetchTo(`${server.origin}/x.ko`, { insecure: true });
    expect(insecure.result).toEqual({ ok: true, bytes: 12 });
  });

  it('trusts the CA in SSL_CERT_FILE, as the README says (issue #13)', async () => {
    const { key, cert } = selfSignedCert();
    const server = await ok({ key, cert });
    const got = await fetchTo(`${server.origin}/x.ko`, {}, { options: { env: { SSL_CERT_FILE: caFileFor(cert) } } });
    expect(got.result).toEqual({ ok: true, bytes: 12 });
    const missing = path.join(tempDir(), 'nope.pem');
    const bad = await fetchTo(`${server.origin}/x.ko`, {}, { options: { env: { SSL_CERT_FILE: missing } } });
    expect(bad.result).toMatchObject({ ok: false, kind: 'io', reason: expect.stringContaining(missing) });
  });

  it('reports an unreadable caFile as an io failure', async () => {
    const server = await ok(selfSignedCert());
    const missing = path.join(tempDir(), 'nope.pem');
    const got = await fetchTo(`${server.origin}/x.ko`, { caFile: missing });
    expect(got.result).toMatchObject({ ok: false, kind: 'io', reason: expect.stringContaining(missing) });
    expect(server.requests).toHaveLength(0);
  });

  it('tunnels https through HTTPS_PROXY with CONNECT, checking the server certificate', async () => {
    const { key, cert } = selfSignedCert();
    const server = await ok({ key, cert });
    const proxy = await startProxy();
    const env = { HTTPS_PROXY: proxy.origin };
    const got = await fetchTo(`${server.origin}/x.ko`, { caFile: caFileFor(cert) }, { options: { env } });
    expect(got.result).toEqual({ ok: true, bytes: 12 });
    expect(proxy.requests.map((r) => `${r.method} ${r.url}`)).toEqual([`CONNECT 127.0.0.1:${server.port}`]);

    const refused = await fetchTo(`${server.origin}/x.ko`, {}, { options: { env } });
    expect(refused.result).toMatchObject({ ok: false, reason: expect.stringMatching(/certificate/) });
  });
});

describe('download through a proxy', () => {
  it('uses the explicit proxy (curl -x) with proxy credentials', async () => {
    const server = await ok();
    const proxy = await startProxy();
    const got = await fetchTo(`${server.origin}/x.ko`, { proxy: proxy.origin, proxyUser: 'p:q' });
    expect(got.result).toEqual({ ok: true, bytes: 12 });
    expect(proxy.requests).toHaveLength(1);
    expect(proxy.requests[0]?.url).toBe(`${server.origin}/x.ko`);
    expect(proxy.requests[0]?.headers['proxy-authorization']).toBe(`Basic ${Buffer.from('p:q').toString('base64')}`);
    expect(server.requests).toHaveLength(1);
  });

  it('takes a proxy given without a scheme as http://', async () => {
    const server = await ok();
    const proxy = await startProxy();
    const got = await fetchTo(`${server.origin}/x.ko`, { proxy: `127.0.0.1:${proxy.port}` });
    expect(got.result.ok).toBe(true);
    expect(proxy.requests).toHaveLength(1);
  });

  it.each(['HTTP_PROXY', 'http_proxy', 'ALL_PROXY'])('uses %s from the environment', async (name) => {
    const server = await ok();
    const proxy = await startProxy();
    const got = await fetchTo(`${server.origin}/x.ko`, {}, { options: { env: { [name]: proxy.origin } } });
    expect(got.result.ok).toBe(true);
    expect(proxy.requests.map((r) => r.url)).toEqual([`${server.origin}/x.ko`]);
  });

  it.each(['NO_PROXY', 'no_proxy'])('bypasses the proxy for hosts in %s, explicit proxy included', async (name) => {
    const server = await ok();
    const proxy = await startProxy();
    const env = { HTTP_PROXY: proxy.origin, [name]: 'localhost,127.0.0.1' };
    expect((await fetchTo(`${server.origin}/x.ko`, {}, { options: { env } })).result.ok).toBe(true);
    const explicit = await fetchTo(`${server.origin}/x.ko`, { proxy: proxy.origin }, { options: { env } });
    expect(explicit.result.ok).toBe(true);
    expect(proxy.requests).toHaveLength(0);
    expect(server.requests).toHaveLength(2);
  });

  it.each(['hang', 'drop'] as const)('ends within the deadline when the proxy CONNECT tunnel %s', async (mode) => {
    const proxy = await startProxy(mode);
    const got = await fetchTo('https://127.0.0.1:9/x.ko', { proxy: proxy.origin, maxTimeMs: 1_500 });
    expect(got.result).toMatchObject({ ok: false, kind: 'timeout' });
    expect(got.ms).toBeLessThan(1_500 + 2_000);
    expect(filesIn(got.dir)).toEqual([]);
  });

  it('does not report proxy credentials when the proxy is unreachable', async () => {
    const server = await ok();
    const got = await fetchTo(`${server.origin}/x.ko`, { proxy: 'http://user:hunter2@127.0.0.1:1', retries: 0 });
    expect(got.result.ok).toBe(false);
    expect(JSON.stringify(got)).not.toContain('hunter2');
  });
});

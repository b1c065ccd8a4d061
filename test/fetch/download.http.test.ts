import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { closedPort, startServer } from '../helpers/httpServer.js';
import { FAST, fetchTo, filesIn } from './helpers.js';

const BODY = Buffer.from('\x7fELF fake kernel module '.repeat(1000));

describe('download over http', () => {
  it('writes the body intact and reports its size', async () => {
    const server = await startServer((_req, res) => res.end(BODY));
    const got = await fetchTo(`${server.origin}/driver/7.0.0%2Bdriver/x86_64/falco_test_1.ko`);
    expect(got.result).toEqual({ ok: true, bytes: BODY.length });
    expect(readFileSync(got.destination)).toEqual(BODY);
    expect(filesIn(got.dir)).toEqual(['falco_test_1.ko']);
    expect(server.requests.map((r) => r.url)).toEqual(['/driver/7.0.0%2Bdriver/x86_64/falco_test_1.ko']);
    expect(got.log).toEqual([expect.stringMatching(/^\* Downloaded 24000 bytes in [\d.]+ s$/)]);
  });

  it("digest: 'sha256' hashes the body as it arrives, for validate() and the result (issue #17)", async () => {
    // Bigger than one write batch and than the collection interval, in small chunks.
    const big = Buffer.alloc(5 * 1024 * 1024 + 123, 0x5a);
    const server = await startServer((_req, res) => {
      for (let at = 0; at < big.length; at += 65_536) res.write(big.subarray(at, at + 65_536));
      res.end();
    });
    const seen: unknown[] = [];
    const got = await fetchTo(
      `${server.origin}/x.ko`,
      { maxBytes: 64 * 1024 * 1024 },
      {
        digest: 'sha256',
        validate: async (temp, received) => {
          seen.push(received, readFileSync(temp).length);
          return undefined;
        },
      },
    );
    const sha256 = createHash('sha256').update(big).digest('hex');
    expect(got.result).toEqual({ ok: true, bytes: big.length, sha256 });
    expect(seen).toEqual([{ bytes: big.length, sha256 }, big.length]);
    expect(readFileSync(got.destination).equals(big)).toBe(true);
    const plain = await fetchTo(`${server.origin}/x.ko`, { maxBytes: 64 * 1024 * 1024 });
    expect(plain.result).toEqual({ ok: true, bytes: big.length });
  });

  it('reports 404 as not-found without retrying', async () => {
    const server = await startServer((_req, res) => {
      res.statusCode = 404;
      res.end('no such key');
    });
    const got = await fetchTo(`${server.origin}/missing.ko`);
    expect(got.result).toEqual({ ok: false, kind: 'not-found', reason: 'HTTP 404 Not Found' });
    expect(server.requests).toHaveLength(1);
    expect(filesIn(got.dir)).toEqual([]);
  });

  it.each([
    [410, 'not-found'],
    [403, 'http'],
    [401, 'http'],
    [429, 'http'],
  ])('never retries a 4xx (%i → %s)', async (code, kind) => {
    const server = await startServer((_req, res) => {
      res.statusCode = code;
      res.end();
    });
    const got = await fetchTo(`${server.origin}/x.ko`);
    expect(got.result).toMatchObject({ ok: false, kind, reason: expect.stringMatching(new RegExp(`^HTTP ${code}`)) });
    expect(server.requests).toHaveLength(1);
  });

  it('retries a 500 and then succeeds', async () => {
    const server = await startServer((_req, res, n) => {
      res.statusCode = n === 0 ? 500 : 200;
      res.end(n === 0 ? 'oops' : BODY);
    });
    const got = await fetchTo(`${server.origin}/x.ko`);
    expect(got.result).toEqual({ ok: true, bytes: BODY.length });
    expect(server.requests).toHaveLength(2);
    expect(got.log[0]).toMatch(/^\* HTTP 500 Internal Server Error; retrying in 0\.1 s \(2 retries left\)$/);
  });

  it('gives up on a 503 after the allowed retries', async () => {
    const server = await startServer((_req, res) => {
      res.statusCode = 503;
      res.end();
    });
    const got = await fetchTo(`${server.origin}/x.ko`);
    expect(got.result).toEqual({ ok: false, kind: 'http', reason: 'HTTP 503 Service Unavailable' });
    expect(server.requests).toHaveLength(1 + FAST.retries);
    expect(got.ms).toBeLessThan(FAST.maxTimeMs + 2_000);
  });

  it('stops retrying at the overall deadline even with retries left', async () => {
    const server = await startServer((_req, res) => {
      res.statusCode = 503;
      res.end();
    });
    const got = await fetchTo(
      `${server.origin}/x.ko`,
      { retries: 100, maxTimeMs: 1_000, retryMaxTimeMs: 10_000 },
      {
        options: { backoffMs: 200 },
      },
    );
    expect(got.result).toMatchObject({ ok: false, kind: 'http' });
    expect(server.requests.length).toBeLessThanOrEqual(4); // 200 + 400 ms of backoff fit in 1 s, 800 more do not
    expect(got.ms).toBeLessThan(1_000 + 2_000);
  });

  it('fails on a refused connection, retrying within the bounds', async () => {
    const port = await closedPort();
    const got = await fetchTo(`http://127.0.0.1:${port}/x.ko`);
    expect(got.result).toEqual({ ok: false, kind: 'network', reason: `connection refused by 127.0.0.1:${port}` });
    expect(got.log.filter((l) => l.includes('retrying'))).toHaveLength(FAST.retries);
    expect(filesIn(got.dir)).toEqual([]);
  });

  it('times out on a server that accepts and never answers', async () => {
    const server = await startServer(() => undefined);
    const got = await fetchTo(`${server.origin}/x.ko`, { retries: 0 });
    expect(got.result).toEqual({
      ok: false,
      kind: 'timeout',
      reason: `no response from 127.0.0.1:${server.port} within 0.7 s`,
    });
    expect(got.ms).toBeLessThan(FAST.maxTimeMs + 2_000);
  });

  it('retries an attempt that got no response, and then succeeds', async () => {
    const server = await startServer((_req, res, n) => {
      if (n > 0) res.end(BODY);
    });
    const got = await fetchTo(`${server.origin}/x.ko`);
    expect(got.result).toEqual({ ok: true, bytes: BODY.length });
    expect(got.log[0]).toMatch(/^\* no response from 127\.0\.0\.1:\d+ within 0\.7 s; retrying in 0\.1 s/);
  });

  it('refuses a URL it cannot fetch', async () => {
    const got = await fetchTo('ftp://mirror.example/x.ko');
    expect(got.result).toEqual({
      ok: false,
      kind: 'network',
      reason: 'cannot download ftp://mirror.example/x.ko: use an http, https or file URL',
    });
  });

  it('ends at the deadline when every attempt hangs', async () => {
    const server = await startServer(() => undefined);
    const got = await fetchTo(`${server.origin}/x.ko`, { maxTimeMs: 1_000 }, { options: { idleTimeoutMs: 60_000 } });
    expect(got.result).toMatchObject({ ok: false, kind: 'timeout', reason: expect.stringMatching(/maximum time/) });
    expect(got.ms).toBeLessThan(1_000 + 2_000);
  });

  it('times out on a body that stalls, leaving nothing behind', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(BODY.length) });
      res.write(BODY.subarray(0, 100)); // then silence
    });
    const got = await fetchTo(`${server.origin}/x.ko`, { retries: 0 });
    expect(got.result).toEqual({
      ok: false,
      kind: 'timeout',
      reason: `no data from 127.0.0.1:${server.port} for 0.7 s after 100 bytes`,
    });
    expect(filesIn(got.dir)).toEqual([]);
  });

  it('fails on a body cut before Content-Length, leaving no file and no .part file', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(BODY.length) });
      res.write(BODY.subarray(0, 1000), () => setTimeout(() => res.socket?.destroy(), 50));
    });
    const got = await fetchTo(`${server.origin}/x.ko`);
    expect(got.result).toMatchObject({
      ok: false,
      kind: 'network',
      reason: expect.stringMatching(new RegExp(`^connection closed after 1000 of ${BODY.length} bytes`)),
    });
    expect(server.requests).toHaveLength(1 + FAST.retries);
    expect(existsSync(got.destination)).toBe(false);
    expect(filesIn(got.dir)).toEqual([]);
  });

  it('follows redirects, relative and absolute', async () => {
    const server = await startServer((req, res) => {
      if (req.url === '/a') res.writeHead(307, { location: '/b' }).end();
      else if (req.url === '/b') res.writeHead(301, { location: `http://127.0.0.1:${server.port}/c` }).end();
      else res.end(BODY);
    });
    const got = await fetchTo(`${server.origin}/a`);
    expect(got.result).toEqual({ ok: true, bytes: BODY.length });
    expect(server.requests.map((r) => r.url)).toEqual(['/a', '/b', '/c']);
  });

  it('fails on a redirect loop without retrying', async () => {
    const server = await startServer((req, res) => {
      res.writeHead(302, { location: req.url === '/a' ? '/b' : '/a' }).end();
    });
    const got = await fetchTo(`${server.origin}/a`);
    expect(got.result).toEqual({
      ok: false,
      kind: 'http',
      reason: `redirect loop: http://127.0.0.1:${server.port}/a redirects back`,
    });
    expect(server.requests).toHaveLength(2);
  });

  it('fails after too many redirects', async () => {
    const server = await startServer((req, res) => {
      res.writeHead(302, { location: `/r${Number(req.url?.slice(2) || 0) + 1}` }).end();
    });
    const got = await fetchTo(`${server.origin}/r0`);
    expect(got.result).toEqual({ ok: false, kind: 'http', reason: 'too many redirects (more than 10)' });
  });

  it('refuses a body larger than maxBytes, announced or not', async () => {
    const announced = await startServer((_req, res) => res.end(BODY));
    const chunked = await startServer((_req, res) => {
      res.write(BODY);
      res.end(BODY);
    });
    for (const origin of [announced.origin, chunked.origin]) {
      const got = await fetchTo(`${origin}/x.ko`, { maxBytes: 20_000 });
      expect(got.result).toMatchObject({
        ok: false,
        kind: 'too-large',
        reason: expect.stringContaining('limit of 20000 bytes'),
      });
      expect(filesIn(got.dir)).toEqual([]);
    }
    expect(announced.requests).toHaveLength(1);
    expect(chunked.requests).toHaveLength(1);
  });

  it('sends extra headers, Basic auth and a user agent', async () => {
    const server = await startServer((_req, res) => res.end('ok'));
    const got = await fetchTo(`${server.origin}/x.ko`, {
      headers: [
        ['X-Mirror-Token', 'abc'],
        ['X-Multi', 'one'],
        ['x-multi', 'two'],
      ],
      user: 'alice:s3cret',
    });
    expect(got.result.ok).toBe(true);
    const headers = server.requests[0]?.headers;
    expect(headers).toMatchObject({
      'x-mirror-token': 'abc',
      'x-multi': 'one, two',
      authorization: `Basic ${Buffer.from('alice:s3cret').toString('base64')}`,
      'user-agent': 'falco-driver-loader',
    });
  });

  it('uses user:password from the URL as Basic auth and never reports it', async () => {
    const server = await startServer((_req, res) => {
      res.statusCode = 404;
      res.end();
    });
    const got = await fetchTo(`http://bob:pa%40ss@127.0.0.1:${server.port}/x.ko`);
    expect(server.requests[0]?.headers.authorization).toBe(`Basic ${Buffer.from('bob:pa@ss').toString('base64')}`);
    expect(JSON.stringify(got)).not.toContain('pa%40ss');
  });

  it('does not carry credentials to another origin on redirect', async () => {
    const other = await startServer((_req, res) => res.end('ok'));
    const first = await startServer((_req, res) => res.writeHead(302, { location: `${other.origin}/y` }).end());
    const got = await fetchTo(`${first.origin}/x`, { user: 'a:b', headers: [['X-Keep', '1']] });
    expect(got.result.ok).toBe(true);
    expect(first.requests[0]?.headers.authorization).toBeDefined();
    expect(other.requests[0]?.headers.authorization).toBeUndefined();
    // Custom headers are as often secrets (PRIVATE-TOKEN): they stay with their origin too (issue #13).
    expect(first.requests[0]?.headers['x-keep']).toBe('1');
    expect(other.requests[0]?.headers['x-keep']).toBeUndefined();
  });

  it('keeps custom headers and credentials on a same-origin redirect', async () => {
    const server = await startServer((req, res) =>
      req.url === '/x' ? res.writeHead(302, { location: '/y' }).end() : res.end('ok'),
    );
    const got = await fetchTo(`${server.origin}/x`, { user: 'a:b', headers: [['PRIVATE-TOKEN', 't']] });
    expect(got.result.ok).toBe(true);
    expect(
      server.requests.map((r) => [r.url, r.headers['private-token'], r.headers.authorization !== undefined]),
    ).toEqual([
      ['/x', 't', true],
      ['/y', 't', true],
    ]);
  });
});

import { readFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DOWNLOAD_DEFAULTS } from '../../src/fetch/settings.js';
import { closedPort, driverRequests } from '../helpers/httpServer.js';
import { repoRoot } from '../helpers/paths.js';
import {
  expectLine,
  FaultHost,
  faultServer,
  goodServer,
  isRoot,
  MARGIN_MS,
  PER_REPO_MS,
  runLoader,
  tried,
  URL_PATH,
} from './harness.js';

/** Headers and 100 bytes of a body that never ends. */
const stalled = (length: number) => (_req: http.IncomingMessage, res: http.ServerResponse) => {
  res.writeHead(200, { 'content-length': String(length) });
  res.write(Buffer.alloc(100, 0x7f));
};

describe.runIf(isRoot)('network faults with one repository', () => {
  it('500 then 200: retried once after 1 s, then cached and loaded', async () => {
    const k = new FaultHost();
    const server = await faultServer((_req, res, n) => {
      if (n === 0) res.writeHead(500).end();
      else res.writeHead(200, { 'content-length': String(k.good.length) }).end(k.good);
    });
    const result = await runLoader([], k.env({ DRIVERS_REPO: server.origin }));
    expect(result.ms).toBeLessThan(1_000 + MARGIN_MS);
    expectLine(result.stderr, /^\* HTTP 500 Internal Server Error; retrying in 1 s \(1 retry left\)$/);
    expect(result.stderr).not.toContain('Download failed');
    expect(result.stdout).toContain('* Download succeeded\n');
    expect(result.code).toBe(0);
    expect(driverRequests(server)).toHaveLength(2);
    k.expectCache('valid');
  });

  it('connection refused: retried once, then the next source (here: modprobe, then exit 1)', async () => {
    const k = new FaultHost();
    const port = await closedPort();
    const result = await runLoader(['--download'], k.env({ DRIVERS_REPO: `http://127.0.0.1:${port}` }));
    expect(result.ms).toBeLessThan(PER_REPO_MS + MARGIN_MS);
    expectLine(result.stderr, new RegExp(`^Download failed: connection refused by 127\\.0\\.0\\.1:${port}$`));
    expectLine(result.stderr, /retrying in 1 s \(1 retry left\)$/);
    expect(result.stdout).toMatch(/\* Trying to load a system falco module, if present\n$/);
    expect(result.stderr).toMatch(/Consider compiling your own falco driver .*\n$/);
    expect(result.code).toBe(1);
    k.expectCache('empty');
  });

  it('a redirect to another host is followed, without the credentials of the first', async () => {
    const k = new FaultHost();
    const other = await goodServer(k);
    const first = await faultServer((req, res) => {
      res.writeHead(302, { location: `${other.origin}/elsewhere${req.url}` }).end();
    });
    const repo = first.origin.replace('http://', 'http://alice:s3cret@');
    const result = await runLoader([], k.env({ DRIVERS_REPO: repo }));
    expect(result.ms).toBeLessThan(PER_REPO_MS + MARGIN_MS);
    expect(result.code).toBe(0);
    expect(result.stdout.match(/\* Trying to download/g)).toHaveLength(1);
    expect(first.requests[0]?.headers.authorization).toBe(`Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
    expect(other.requests.map((r) => r.url)).toEqual([`/elsewhere${URL_PATH}`]);
    expect(other.requests[0]?.headers.authorization).toBeUndefined();
    expect(`${result.stdout}${result.stderr}`).not.toContain('s3cret');
    k.expectCache('valid');
  });

  it('three repositories where only the third answers: each is tried once, in order', async () => {
    const k = new FaultHost();
    const refused = `http://127.0.0.1:${await closedPort()}/one`;
    const missing = await faultServer((_req, res) => res.writeHead(404).end());
    const good = await goodServer(k);
    const repos = [refused, `${missing.origin}/two`, `${good.origin}/three`];
    const result = await runLoader([], k.env({ DRIVERS_REPO: repos.join(',') }));
    expect(result.ms).toBeLessThan(2 * PER_REPO_MS + MARGIN_MS);
    expect(result.stdout).toContain(`${repos.map((r) => tried(`${r}${URL_PATH}`)).join('\n')}\n* Download succeeded\n`);
    expectLine(result.stderr, /^Download failed: connection refused by 127\.0\.0\.1:\d+$/);
    expectLine(result.stderr, /^Download failed: HTTP 404 Not Found$/);
    expect(result.stderr.match(/^Unable to find a prebuilt falco module$/gm)).toHaveLength(2);
    expect(missing.requests).toHaveLength(1);
    expect(driverRequests(good)).toHaveLength(1);
    expect(result.code).toBe(0);
    k.expectCache('valid');
  });

  it('the default size limit (512 MiB) refuses an announced 2 GiB body at once', async () => {
    const k = new FaultHost();
    const server = await faultServer(stalled(2 * 1024 ** 3));
    const result = await runLoader(['--download'], k.env({ DRIVERS_REPO: server.origin }));
    expect(result.ms).toBeLessThan(MARGIN_MS);
    expectLine(
      result.stderr,
      /^Download failed: the server announced 2147483648 bytes, more than the limit of 536870912 bytes \(FALCO_DRIVER_LOADER_MAX_DOWNLOAD_BYTES\)$/,
    );
    expect(result.code).toBe(1);
    k.expectCache('empty');
  });
});

describe('the bounds are documented', () => {
  it('README states the default size limit and how to change it', () => {
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    expect(DOWNLOAD_DEFAULTS.maxBytes).toBe(512 * 1024 * 1024);
    expect(readme).toMatch(
      /\| largest file \(an announced size is refused before reading\) \| 512 MiB \| `FALCO_DRIVER_LOADER_MAX_DOWNLOAD_BYTES` \|/,
    );
  });
});

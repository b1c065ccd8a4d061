import { existsSync, readdirSync } from 'node:fs';
import type http from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { driverRequests } from '../helpers/httpServer.js';
import {
  type CacheSnapshot,
  expectCacheState,
  expectLine,
  FaultHost,
  type Finished,
  faultServer,
  goodServer,
  isRoot,
  MARGIN_MS,
  PER_REPO_MS,
  pool,
  runLoader,
  tried,
  URL_PATH,
} from './harness.js';

type Reply = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;

interface Fault {
  readonly name: string;
  readonly reply: Reply;
  /** The one stderr line that names the fault. */
  readonly line: RegExp;
  /** Requests the faulty repository must have seen: 1 = not retried, 2 = retried once (FAST_CURL). */
  readonly requests: number;
  readonly env?: NodeJS.ProcessEnv;
}

const status =
  (code: number, body = ''): Reply =>
  (_req, res) => {
    res.writeHead(code, { 'content-type': 'text/plain' }).end(body);
  };

/** Headers, then part of the body, then (after `then`) whatever the fault needs. */
const partial =
  (headers: http.OutgoingHttpHeaders, then: (res: http.ServerResponse) => void): Reply =>
  (_req, res) => {
    res.writeHead(200, headers);
    res.write(Buffer.alloc(100, 0x7f), () => then(res));
  };

const FAULTS: readonly Fault[] = [
  { name: '404', reply: status(404), line: /^Download failed: HTTP 404 Not Found$/, requests: 1 },
  { name: '403', reply: status(403), line: /^Download failed: HTTP 403 Forbidden$/, requests: 1 },
  {
    name: '503 forever (retries bounded by --retry)',
    reply: status(503),
    line: /^Download failed: HTTP 503 Service Unavailable$/,
    requests: 2,
  },
  {
    name: '503 forever (retries bounded by --retry-max-time, even with --retry 5)',
    reply: status(503),
    line: /^Download failed: HTTP 503 Service Unavailable$/,
    requests: 2,
    env: { DRIVER_CURL_OPTIONS: '--connect-timeout 1 -m 10 --retry 5 --retry-max-time 2' },
  },
  {
    name: 'a server that accepts and never answers',
    reply: () => undefined,
    line: /^Download failed: (no response from 127\.0\.0\.1:\d+ within 5 s|gave up after 5(\.\d)? s \(maximum time\))$/,
    requests: 1,
  },
  {
    name: 'headers, then a stalled body',
    reply: partial({ 'content-length': '100000' }, () => undefined),
    line: /^Download failed: (no data from 127\.0\.0\.1:\d+ for 5 s after 100 bytes|gave up after 5(\.\d)? s \(maximum time\))$/,
    requests: 1,
  },
  {
    name: 'a body cut off before Content-Length',
    reply: partial({ 'content-length': '100000' }, (res) => res.socket?.destroy()),
    line: /^Download failed: connection closed after \d+ of 100000 bytes( \(.*\))?$/,
    requests: 2,
  },
  {
    name: 'a chunked body cut mid-chunk',
    reply: (_req, res) => {
      // Raw bytes: a chunk announced as 0x1000 bytes of which 100 arrive before the connection drops.
      const head = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n';
      res.socket?.write(Buffer.concat([Buffer.from(head), Buffer.alloc(100, 0x7f)]), () => res.socket?.destroy());
    },
    line: /^Download failed: connection closed after \d+ bytes \(.+\)$/,
    requests: 2,
  },
  {
    name: 'a redirect loop',
    reply: (req, res) => {
      const next = req.url?.startsWith('/loop') ? URL_PATH : `/loop${URL_PATH}`;
      res.writeHead(302, { location: next }).end();
    },
    line: /^Download failed: redirect loop: http:\/\/127\.0\.0\.1:\d+\/6\.0\.1%2Bdriver\/.* redirects back$/,
    requests: 2, // the file, its redirect; the redirect back to the file is not followed, nor retried
  },
  {
    name: 'an HTML error page served with 200',
    reply: (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Please sign in</body></html>\n');
    },
    line: /^Download failed: an HTML error page served with status 200$/,
    requests: 1,
  },
  {
    name: 'a 2 GiB body (announced), with the limit lowered to 1 MiB',
    reply: partial({ 'content-length': String(2 * 1024 ** 3) }, () => undefined),
    line: /^Download failed: the server announced 2147483648 bytes, more than the limit of 1048576 bytes \(FALCO_DRIVER_LOADER_MAX_DOWNLOAD_BYTES\)$/,
    requests: 1,
    env: { FALCO_DRIVER_LOADER_MAX_DOWNLOAD_BYTES: '1048576' },
  },
  {
    name: 'a body over the limit, announced and sent in full (the body must be dropped quietly)',
    reply: (_req, res) => {
      res.end(Buffer.alloc(30_000, 0x7f));
    },
    line: /^Download failed: the server announced 30000 bytes, more than the limit of 20000 bytes \(FALCO_DRIVER_LOADER_MAX_DOWNLOAD_BYTES\)$/,
    requests: 1,
    env: { FALCO_DRIVER_LOADER_MAX_DOWNLOAD_BYTES: '20000' },
  },
  {
    name: 'an endless body without Content-Length, with the limit lowered to 1 MiB',
    reply: (_req, res) => {
      res.writeHead(200);
      const pump = () => {
        while (res.write(Buffer.alloc(65_536, 0x7f)));
      };
      res.on('drain', pump);
      pump();
    },
    line: /^Download failed: the body kept going, more than the limit of 1048576 bytes \(FALCO_DRIVER_LOADER_MAX_DOWNLOAD_BYTES\)$/,
    requests: 1,
    env: { FALCO_DRIVER_LOADER_MAX_DOWNLOAD_BYTES: '1048576' },
  },
];

interface Outcome {
  readonly result: Finished;
  readonly badRequests: number;
  readonly goodRequests: number;
  /** What the cache held when the next repository was asked: the failed download must have left nothing. */
  readonly cacheWhenNext: string[] | undefined;
  readonly snap: CacheSnapshot;
  readonly urls: readonly [string, string];
}

async function runFault(fault: Fault): Promise<Outcome> {
  const k = new FaultHost();
  const bad = await faultServer(fault.reply);
  let cacheWhenNext: string[] | undefined;
  const good = await goodServer(k, {
    onRequest: (dir) => {
      cacheWhenNext = existsSync(dir) ? readdirSync(dir) : [];
    },
  });
  const result = await runLoader([], k.env({ DRIVERS_REPO: `${bad.origin} ${good.origin}`, ...fault.env }));
  return {
    result,
    badRequests: bad.requests.length,
    goodRequests: driverRequests(good).length,
    cacheWhenNext,
    snap: k.snapshot(),
    urls: [`${bad.origin}${URL_PATH}`, `${good.origin}${URL_PATH}`],
  };
}

describe.runIf(isRoot)('network faults: the faulty repository fails in one line, the next one is used', () => {
  // Most faults wait on a timer (a retry, a stall): run them side by side, then judge each in its own test.
  const outcomes = new Map<string, Outcome>();
  beforeAll(() => pool(FAULTS, 3, async (fault) => void outcomes.set(fault.name, await runFault(fault))), 60_000);

  it.each(FAULTS)('$name', (fault) => {
    const o = outcomes.get(fault.name);
    if (o === undefined) throw new Error(`${fault.name} did not run`);
    const { result } = o;
    expect(result.ms).toBeLessThan(PER_REPO_MS + MARGIN_MS);
    expectLine(result.stderr, fault.line);
    expect(result.stderr).toContain('Unable to find a prebuilt falco module\n');
    expect(result.stdout).toContain(`${tried(o.urls[0])}\n${tried(o.urls[1])}\n* Download succeeded\n`);
    expect(result.stdout).toContain('* Success: falco module found and inserted\n');
    expect(result.code).toBe(0);
    expect(o.badRequests).toBe(fault.requests);
    expect(o.goodRequests).toBe(1);
    expect(o.cacheWhenNext).toEqual([]);
    expectCacheState(o.snap, 'valid');
    expect(o.snap.loaded).toEqual(['falco']);
  });
});

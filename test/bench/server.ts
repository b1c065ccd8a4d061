/**
 * The benchmark's HTTP repository, run as its own process (the server's CPU must not share an event loop with what
 * is measured). Bundled to a .cjs by run.mjs and started with one JSON argument:
 *   { "files": { "/url/path": "/file/on/disk" }, "blackholes": 2 }
 * On 127.0.0.1 it serves each file from memory (200 with Content-Length), `/gen/<bytes>[?rate=<bytes/s>&watch=<dir>]`
 * as that many bytes (one random MiB repeated, so no file is needed; `watch`: see watch()), `/in-flight` as what the
 * last watched download had in flight, and 404 for anything else. It also opens
 * `blackholes` TCP listeners that accept connections and never answer. Prints one JSON line with the ports, then
 * runs until stdin closes (the benchmark ends or dies) or SIGTERM.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

interface Config {
  readonly files: Record<string, string>;
  readonly blackholes: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config;
const bodies = new Map<string, Buffer>();
const cache = new Map<string, Buffer>();
for (const [urlPath, file] of Object.entries(config.files)) {
  const body = cache.get(file) ?? readFileSync(file);
  cache.set(file, body);
  bodies.set(urlPath, body);
}

const sockets = new Set<net.Socket>();
const track = (socket: net.Socket): void => {
  sockets.add(socket);
  socket.on('error', () => undefined);
  socket.on('close', () => sockets.delete(socket));
};

const block = randomBytes(1024 * 1024);

/** What the last watched download had in flight at most: the report's "streams, not buffers" evidence. */
interface InFlight {
  maxBytes: number;
  sent: number;
  written: number;
}
let watched: { readonly result: InFlight; poll: () => void; timer: NodeJS.Timeout | undefined } | undefined;

/** Bytes on disk in `dir` (the client's temp file, then the renamed file). */
function onDisk(dir: string): number {
  try {
    return readdirSync(dir).reduce((sum, name) => sum + statSync(path.join(dir, name)).size, 0);
  } catch {
    return 0;
  }
}

/**
 * Every 5 ms: bytes the server's kernel accepted for the client (socket buffers included) minus bytes the client
 * has on disk in `dir`. A client that buffers the body shows about the whole file in flight; one that streams
 * shows the socket buffers and a chunk or two. Stops when the whole file is on disk (or after 60 s).
 */
function watch(res: http.ServerResponse, total: number, dir: string, sentSoFar: () => number): void {
  if (watched?.timer) clearInterval(watched.timer);
  const result: InFlight = { maxBytes: 0, sent: 0, written: 0 };
  const deadline = performance.now() + 60_000;
  const poll = (): void => {
    result.sent = sentSoFar() - res.writableLength;
    result.written = onDisk(dir);
    result.maxBytes = Math.max(result.maxBytes, result.sent - result.written);
    if ((result.written >= total || performance.now() > deadline) && current.timer) {
      clearInterval(current.timer);
      current.timer = undefined;
    }
  };
  const current: NonNullable<typeof watched> = { result, poll, timer: setInterval(poll, 5) };
  watched = current;
}

/**
 * Writes `total` bytes of `block`, waiting for 'drain' like a file stream would (memory stays flat); with `rate`
 * (bytes per second), in 64 KiB chunks paced to that average, like a slow link.
 */
function generate(res: http.ServerResponse, total: number, rate: number | undefined, dir: string | undefined): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
  const started = performance.now();
  let left = total;
  if (dir !== undefined) watch(res, total, dir, () => total - left);
  const more = (): void => {
    while (left > 0) {
      if (rate !== undefined) {
        const wait = started + ((total - left) / rate) * 1000 - performance.now();
        if (wait >= 1) {
          setTimeout(more, wait);
          return;
        }
      }
      const chunk = block.subarray(0, Math.min(left, rate === undefined ? block.length : 64 * 1024));
      left -= chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', more);
        return;
      }
    }
    res.end();
  };
  more();
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const gen = /^\/gen\/(\d+)$/.exec(url.pathname);
  if (gen?.[1] !== undefined) {
    const rate = url.searchParams.get('rate');
    generate(res, Number(gen[1]), rate === null ? undefined : Number(rate), url.searchParams.get('watch') ?? undefined);
    return;
  }
  if (url.pathname === '/in-flight') {
    if (watched?.timer) watched.poll(); // a last look, unless the watch already saw the whole file
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(watched?.result ?? null));
    return;
  }
  const body = bodies.get(req.url ?? '');
  if (body === undefined) {
    res.writeHead(404, { 'content-length': '0' }).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
  res.end(body);
});
server.on('connection', track);

const listen = (s: net.Server): Promise<number> =>
  new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as net.AddressInfo).port)));

async function start(): Promise<void> {
  const port = await listen(server);
  const holes: number[] = [];
  for (let i = 0; i < config.blackholes; i++) holes.push(await listen(net.createServer(track)));
  process.stdout.write(`${JSON.stringify({ origin: `http://127.0.0.1:${port}`, blackholes: holes })}\n`);
}

const stop = (): void => {
  for (const socket of sockets) socket.destroy();
  process.exit(0);
};
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
void start();

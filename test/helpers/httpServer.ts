import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';

export interface Recorded {
  readonly method: string;
  /** As received: a path for a server, an absolute URL (or host:port for CONNECT) for a proxy. */
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
}

export interface TestServer {
  /** `http://127.0.0.1:<port>` or `https://…` */
  readonly origin: string;
  readonly port: number;
  readonly requests: Recorded[];
  close(): Promise<void>;
}

/** Called for every request; `n` counts from 0. May answer, never answer, or destroy the socket. */
export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;

const open: TestServer[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

/** A scriptable HTTP (or, given a key and certificate, HTTPS) server on 127.0.0.1, closed after each test. */
export async function startServer(handler: Handler, tls?: { key: string; cert: string }): Promise<TestServer> {
  const requests: Recorded[] = [];
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    handler(req, res, requests.length - 1);
  };
  const server = tls ? https.createServer(tls, listener) : http.createServer(listener);
  return listen(server, tls ? 'https' : 'http', requests);
}

/**
 * A forward proxy that records what reaches it: absolute-URI requests are relayed with node:http, CONNECT
 * requests are tunnelled to the named host:port, or (to play a broken proxy) left hanging or dropped.
 */
export async function startProxy(onConnect: 'tunnel' | 'hang' | 'drop' = 'tunnel'): Promise<TestServer> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const upstream = http.request(req.url ?? '', { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    requests.push({ method: 'CONNECT', url: req.url ?? '', headers: req.headers });
    if (onConnect === 'hang') return;
    if (onConnect === 'drop') {
      client.destroy();
      return;
    }
    tunnel(client, req.url ?? '', head);
  });
  return listen(server, 'http', requests);
}

/** Answers a CONNECT: opens `host:port`, says 200 and pipes both ways (shared by the test proxies). */
export function tunnel(client: net.Socket, hostPort: string, head: Buffer): void {
  const [host, port] = hostPort.split(':');
  const target = net.connect(Number(port), host ?? '', () => {
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    target.write(head);
    target.pipe(client);
    client.pipe(target);
  });
  target.on('error', () => client.destroy());
  client.on('error', () => target.destroy());
}

async function listen(server: net.Server, scheme: string, requests: Recorded[]): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const handle: TestServer = {
    origin: `${scheme}://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  open.push(handle);
  return handle;
}

/** A port nothing listens on: bound, then released (good enough on a test machine). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let cached: { key: string; cert: string } | undefined;

/** A throwaway self-signed certificate for 127.0.0.1, made with openssl once per test file and never stored. */
export function selfSignedCert(): { key: string; cert: string } {
  if (cached) return cached;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fdl-cert-'));
  try {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2'].concat([
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ]),
      { stdio: 'ignore' },
    );
    cached = { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
    return cached;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What a server was asked apart from the SHA256SUMS the loader requests after each download (issue 19). */
export function driverRequests(server: TestServer): Recorded[] {
  return server.requests.filter((r) => !r.url.endsWith('/SHA256SUMS'));
}

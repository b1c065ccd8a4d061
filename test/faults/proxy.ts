import http from 'node:http';
import type net from 'node:net';
import { afterEach } from 'vitest';
import { type Recorded, tunnel } from '../helpers/httpServer.js';

/**
 * A forward proxy on 127.0.0.1 for the proxy faults of issue #8: it refuses everything with 403, or it wants Basic
 * `Proxy-Authorization` (407 without it) and then relays absolute-URI requests and tunnels CONNECT.
 */
export interface FaultProxy {
  readonly origin: string;
  readonly requests: Recorded[];
}

export type ProxyMode = { readonly kind: 'refuse' } | { readonly kind: 'auth'; readonly userPass: string };

const running: Array<() => Promise<void>> = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((close) => close()));
});

export async function startFaultProxy(mode: ProxyMode): Promise<FaultProxy> {
  const requests: Recorded[] = [];
  const allowed = (req: http.IncomingMessage): boolean =>
    mode.kind === 'auth' &&
    req.headers['proxy-authorization'] === `Basic ${Buffer.from(mode.userPass).toString('base64')}`;
  const refusal = (req: http.IncomingMessage) =>
    mode.kind === 'refuse' ? '403 Forbidden' : allowed(req) ? undefined : '407 Proxy Authentication Required';

  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const refused = refusal(req);
    if (refused !== undefined) {
      res.writeHead(Number(refused.slice(0, 3)), { 'proxy-authenticate': 'Basic realm="fdl"' }).end();
      return;
    }
    const { 'proxy-authorization': _drop, ...headers } = req.headers;
    const upstream = http.request(req.url ?? '', { method: req.method, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    requests.push({ method: 'CONNECT', url: req.url ?? '', headers: req.headers });
    client.on('error', () => undefined);
    const refused = refusal(req);
    if (refused !== undefined) {
      client.end(`HTTP/1.1 ${refused}\r\nProxy-Authenticate: Basic realm="fdl"\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    tunnel(client, req.url ?? '', head);
  });
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  running.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as net.AddressInfo;
  return { origin: `http://127.0.0.1:${port}`, requests };
}

import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchTo, filesIn } from './helpers.js';

/**
 * Servers that send the whole response and then close the connection (busybox httpd, `python3 -m http.server`,
 * HTTP/1.0 mirrors). undici 7 paused its parser when the body was read slower than it arrived (our file writes) and
 * crashed the process from the socket's 'end' handler with `AssertionError: assert(!this.paused)` (nodejs/undici#5360,
 * fixed only in undici 8). Found by the e2e test (test/e2e), where every SEA download from busybox httpd crashed.
 */
const servers: net.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function closingServer(body: Buffer): Promise<string> {
  const server = net.createServer((socket) => {
    socket.once('data', () => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
      socket.write(body);
      socket.end();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return `http://127.0.0.1:${port}`;
}

describe('download from a server that closes the connection after the body', () => {
  it('keeps the whole body and does not crash, every time', async () => {
    const body = Buffer.alloc(768 * 1024, 0x61);
    const origin = await closingServer(body);
    for (let i = 0; i < 10; i++) {
      const got = await fetchTo(`${origin}/9.9.9%2Bdriver/x86_64/falco_test_1.ko`);
      expect(got.result).toEqual({ ok: true, bytes: body.length });
      expect(readFileSync(got.destination).equals(body)).toBe(true);
      expect(filesIn(got.dir)).toEqual(['falco_test_1.ko']);
    }
  });
});

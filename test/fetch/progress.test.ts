import { describe, expect, it } from 'vitest';
import { ProgressBar } from '../../src/fetch/progress.js';
import { startServer } from '../helpers/httpServer.js';
import { fetchTo } from './helpers.js';

function fakeTerminal() {
  const writes: string[] = [];
  return { writes, terminal: { columns: 80, write: (t: string) => writes.push(t) } };
}

describe('progress bar', () => {
  it('draws a bar with percent and size, then clears its line', () => {
    const { writes, terminal } = fakeTerminal();
    const bar = new ProgressBar(terminal);
    bar.update(5 * 1048576, 20 * 1048576);
    bar.done();
    expect(writes[0]).toBe(`\r* [${'#'.repeat(9)}${'.'.repeat(26)}]  25% 5.0/20.0 MiB\u001b[K`);
    expect(writes[1]).toBe('\r\u001b[K');
  });

  it('without a size, shows the bytes so far', () => {
    const { writes, terminal } = fakeTerminal();
    new ProgressBar(terminal).update(3 * 1048576, undefined);
    expect(writes).toEqual(['\r* downloading 3.0 MiB\u001b[K']);
  });

  it('redraws at most 10 times a second, and draws nothing without a terminal', () => {
    const { writes, terminal } = fakeTerminal();
    const bar = new ProgressBar(terminal);
    for (let i = 0; i < 1000; i++) bar.update(i, 1000);
    expect(writes).toHaveLength(1);
    const none = new ProgressBar(undefined);
    none.update(1, 2);
    none.done();
  });

  it('a real download on a terminal draws the bar and leaves the line clean for the summary', async () => {
    const body = Buffer.alloc(256 * 1024, 7);
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(body.length) });
      res.end(body);
    });
    try {
      const { writes, terminal } = fakeTerminal();
      const fetched = await fetchTo(`${server.origin}/f.ko`, {}, { options: { terminal } });
      expect(fetched.result.ok).toBe(true);
      expect(writes.length).toBeGreaterThanOrEqual(2);
      expect(writes[0]).toMatch(/^\r\* \[[#.]+\] +\d+% /);
      expect(writes.at(-1)).toBe('\r\u001b[K');
      expect(fetched.log.at(-1)).toMatch(/^\* Downloaded 262144 bytes/);
    } finally {
      await server.close();
    }
  });
});

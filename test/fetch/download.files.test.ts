import { existsSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { download } from '../../src/fetch/download.js';
import { startServer } from '../helpers/httpServer.js';
import { tempDir } from '../helpers/tmp.js';
import { FAST, FAST_OPTIONS, fetchTo, filesIn } from './helpers.js';

describe('file:// mirrors', () => {
  it('copies the file, decoding %2B like curl did', async () => {
    const mirror = tempDir('fdl-mirror-');
    mkdirSync(path.join(mirror, '7.0.0+driver', 'x86_64'), { recursive: true });
    writeFileSync(path.join(mirror, '7.0.0+driver', 'x86_64', 'falco_test_1.ko'), 'offline module');
    const got = await fetchTo(`${pathToFileURL(mirror).href}/7.0.0%2Bdriver/x86_64/falco_test_1.ko`);
    expect(got.result).toEqual({ ok: true, bytes: 14 });
    expect(readFileSync(got.destination, 'utf8')).toBe('offline module');
    expect(filesIn(got.dir)).toEqual(['falco_test_1.ko']);
  });

  it('reports a missing file or a directory as not-found', async () => {
    const mirror = tempDir('fdl-mirror-');
    const missing = await fetchTo(`${pathToFileURL(mirror).href}/nope.ko`);
    expect(missing.result).toEqual({ ok: false, kind: 'not-found', reason: `no such file ${mirror}/nope.ko` });
    const directory = await fetchTo(pathToFileURL(mirror).href);
    expect(directory.result).toMatchObject({ ok: false, kind: 'not-found' });
    expect(filesIn(missing.dir)).toEqual([]);
  });

  it('applies maxBytes and validate() to local files too', async () => {
    const source = path.join(tempDir('fdl-mirror-'), 'big.ko');
    writeFileSync(source, Buffer.alloc(2048));
    const url = pathToFileURL(source).href;
    expect((await fetchTo(url, { maxBytes: 1024 })).result).toMatchObject({ ok: false, kind: 'too-large' });
    const rejected = await fetchTo(url, {}, { validate: async () => 'not an ELF file' });
    expect(rejected.result).toEqual({ ok: false, kind: 'invalid', reason: 'not an ELF file' });
    expect(filesIn(rejected.dir)).toEqual([]);
  });
});

describe('the temp file and the destination', () => {
  it('validates the complete temp file beside the destination before renaming it', async () => {
    const server = await startServer((_req, res) => res.end('module bytes'));
    let seen: { dir: string; name: string; content: string; mode: number } | undefined;
    const got = await fetchTo(
      `${server.origin}/x.ko`,
      {},
      {
        validate: async (temp) => {
          seen = {
            dir: path.dirname(temp),
            name: path.basename(temp),
            content: readFileSync(temp, 'utf8'),
            mode: statSync(temp).mode & 0o777,
          };
          return undefined;
        },
      },
    );
    expect(got.result.ok).toBe(true);
    expect(seen?.dir).toBe(got.dir);
    expect(seen?.name).toMatch(new RegExp(`^\\.falco_test_1\\.ko\\.part-${process.pid}-[0-9a-f]+$`));
    expect(seen?.content).toBe('module bytes');
    expect((seen?.mode ?? 0) & ~0o644).toBe(0);
  });

  it('removes the temp file and keeps the old destination when validate() rejects or throws', async () => {
    const server = await startServer((_req, res) => res.end('new bytes'));
    for (const validate of [async () => 'wrong vermagic', async () => Promise.reject(new Error('modinfo crashed'))]) {
      const dir = tempDir();
      const destination = path.join(dir, 'falco.ko');
      writeFileSync(destination, 'old bytes');
      const got = await fetchTo(`${server.origin}/x.ko`, {}, { destination, validate });
      expect(got.result).toMatchObject({ ok: false, kind: 'invalid' });
      expect(readFileSync(destination, 'utf8')).toBe('old bytes');
      expect(filesIn(dir)).toEqual(['falco.ko']);
    }
  });

  it('keeps the old destination when the server fails', async () => {
    const server = await startServer((_req, res) => res.writeHead(404).end());
    const dir = tempDir();
    const destination = path.join(dir, 'falco.ko');
    writeFileSync(destination, 'old bytes');
    await fetchTo(`${server.origin}/x.ko`, {}, { destination });
    expect(readFileSync(destination, 'utf8')).toBe('old bytes');
  });

  it('replaces a symlink at the destination instead of writing through it', async () => {
    const server = await startServer((_req, res) => res.end('new bytes'));
    const dir = tempDir();
    const victim = path.join(dir, 'victim');
    writeFileSync(victim, 'precious');
    const destination = path.join(dir, 'falco.ko');
    symlinkSync(victim, destination);
    const got = await fetchTo(`${server.origin}/x.ko`, {}, { destination });
    expect(got.result.ok).toBe(true);
    expect(lstatSync(destination).isSymbolicLink()).toBe(false);
    expect(readFileSync(destination, 'utf8')).toBe('new bytes');
    expect(readFileSync(victim, 'utf8')).toBe('precious');
  });

  it('reports a destination it cannot create as an io failure', async () => {
    const server = await startServer((_req, res) => res.end('x'));
    const blocker = path.join(tempDir(), 'file');
    writeFileSync(blocker, '');
    const got = await fetchTo(`${server.origin}/x.ko`, {}, { destination: path.join(blocker, 'sub', 'falco.ko') });
    expect(got.result).toMatchObject({ ok: false, kind: 'io' });
    expect(server.requests).toHaveLength(0);
  });

  it('removes the temp file when aborted mid-body', async () => {
    const dir = tempDir();
    const destination = path.join(dir, 'falco.ko');
    const controller = new AbortController();
    let partSeen: string[] = [];
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-length': '100000' });
      res.write(Buffer.alloc(1000), () =>
        setTimeout(() => {
          partSeen = filesIn(dir);
          controller.abort();
        }, 100),
      );
    });
    const result = await download(
      { url: `${server.origin}/x.ko`, destination, log: () => undefined, signal: controller.signal },
      FAST,
      FAST_OPTIONS,
    );
    expect(result).toEqual({ ok: false, kind: 'network', reason: 'download aborted' });
    expect(partSeen).toEqual([expect.stringMatching(/^\.falco\.ko\.part-/)]);
    expect(filesIn(dir)).toEqual([]);
  });

  it('does nothing when already aborted', async () => {
    const server = await startServer((_req, res) => res.end('x'));
    const got = await fetchTo(`${server.origin}/x.ko`, {}, { signal: AbortSignal.abort() });
    expect(got.result).toEqual({ ok: false, kind: 'network', reason: 'download aborted' });
    expect(server.requests).toHaveLength(0);
    expect(existsSync(got.dir)).toBe(false);
  });

  it('stops waiting between retries when aborted', async () => {
    const controller = new AbortController();
    const server = await startServer((_req, res) => {
      res.writeHead(503).end();
      setTimeout(() => controller.abort(), 50);
    });
    const started = performance.now();
    const slow = { maxTimeMs: 20_000, retryMaxTimeMs: 20_000 };
    const got = await fetchTo(`${server.origin}/x.ko`, slow, {
      signal: controller.signal,
      options: { backoffMs: 5_000 },
    });
    expect(got.result).toEqual({ ok: false, kind: 'network', reason: 'download aborted' });
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

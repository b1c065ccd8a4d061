import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { driverRequests } from '../helpers/httpServer.js';
import { isLocked } from '../helpers/lock.js';
import {
  expectCacheState,
  expectLine,
  FaultHost,
  FILE,
  faultServer,
  goodServer,
  isRoot,
  MARGIN_MS,
  runLoader,
  start,
  until,
} from './harness.js';

/**
 * A disk that fills during a download, and eight runs at once (issue #8).
 *
 * Disk full: no test may mount a small tmpfs, so the write error is injected with RLIMIT_FSIZE (`prlimit --fsize`)
 * around the real CLI. Past the limit write(2) fails with EFBIG, the same path as ENOSPC in fetch/tempFile.ts; the
 * loader handles SIGXFSZ so the kernel's signal does not kill it first (which left the temp file behind).
 */
describe.runIf(isRoot)('a disk that fills during a download', () => {
  it('the write fails in one line, no partial file is left, the next source follows; a later run succeeds', async () => {
    const k = new FaultHost();
    // A valid module padded to 256 KiB (trailing bytes do not change an ELF file), written under a 64 KiB limit.
    const padded = Buffer.concat([k.good, Buffer.alloc(256 * 1024 - k.good.length)]);
    const server = await faultServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(padded.length) }).end(padded);
    });
    const env = k.env({ DRIVERS_REPO: `${server.origin}/a,${server.origin}/b` });
    const full = await runLoader([], env, ['/usr/bin/prlimit', '--fsize=65536', '--']);
    expect(full.signal).toBeNull();
    expectLine(full.stderr, /^Download failed: cannot write the download: EFBIG: file too large$/);
    // The disk is the problem, not the repository: the next source is the build (no dkms here), then modprobe.
    expect(full.stdout.match(/\* Trying to download/g)).toHaveLength(1);
    expect(full.stdout).toMatch(/\* Trying to load a system falco module, if present\n$/);
    expect(full.code).toBe(1);
    k.expectCache('empty');

    const later = await runLoader([], env);
    expect(later.code).toBe(0);
    expect(readFileSync(path.join(k.cacheDir(), FILE)).equals(padded)).toBe(true);
  });
});

describe.runIf(isRoot)('eight runs at once against one cache and one (simulated) kernel', () => {
  it('one download, the module loaded once, one valid file, nobody waits past the lock timeout', async () => {
    const k = new FaultHost();
    const server = await goodServer(k);
    const lockTimeoutS = 30;
    const env = k.env({ DRIVERS_REPO: server.origin, FALCO_DRIVER_LOADER_LOCK_TIMEOUT_SECONDS: String(lockTimeoutS) });
    const results = await Promise.all(Array.from({ length: 8 }, () => start([], env).done));

    for (const result of results) {
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).not.toMatch(/File exists|still holds|internal error/);
      expect(result.ms).toBeLessThan(lockTimeoutS * 1000 + MARGIN_MS);
    }
    // The lock serialises them: the first downloads; each later one unloads the module its predecessor loaded
    // (the legacy Cleaning phase) and loads the cached file again.
    expect(driverRequests(server)).toHaveLength(1);
    expect(results.filter((r) => r.stdout.includes('* Download succeeded\n'))).toHaveLength(1);
    expect(results.filter((r) => r.stdout.includes('* Found a prebuilt falco module at'))).toHaveLength(7);
    expect(results.some((r) => r.stdout.includes('* Waiting for another falco-driver-loader'))).toBe(true);
    expect(k.callsOf('insmod')).toHaveLength(8);
    expect(k.callsOf('rmmod')).toEqual(Array(7).fill('rmmod falco'));
    const snap = k.snapshot();
    expect(snap.loaded).toEqual(['falco']);
    expect(k.loadedVersion()).toBe(k.driverVersion);
    expectCacheState(snap, 'valid');
  });

  it('a run that cannot get the lock gives up at the timeout, in one line, having done nothing', async () => {
    const k = new FaultHost();
    const lock = path.join(k.home, '.falco', '.lock');
    mkdirSync(path.dirname(lock), { recursive: true });
    const holder = spawn('flock', ['-x', '-o', lock, 'sleep', '30'], { stdio: 'ignore' });
    try {
      await until(() => isLocked(lock), 'the other run to hold the lock');
      writeFileSync(lock, `${holder.pid}\n`);
      const result = await runLoader([], k.env({ FALCO_DRIVER_LOADER_LOCK_TIMEOUT_SECONDS: '1' }));
      expect(result.ms).toBeLessThan(1_000 + MARGIN_MS);
      expectLine(
        result.stderr,
        new RegExp(`^Another falco-driver-loader \\(pid ${holder.pid}\\) still holds .* after 1 s`),
      );
      expect(result.stderr.split('\n')).toHaveLength(2);
      expect(result.code).toBe(1);
      expect(k.calls()).toEqual([]);
    } finally {
      holder.kill('SIGKILL');
    }
  });
});

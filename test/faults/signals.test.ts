import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAlive } from '../../src/system/lock.js';
import { isLocked } from '../helpers/lock.js';
import { moduleFor } from '../kmod/modules.js';
import { expectNoStack, FaultHost, faultServer, isRoot, leftovers, MARGIN_MS, start, until } from './harness.js';

/**
 * SIGTERM (Kubernetes stopping a pod) and SIGINT (Ctrl-C) in the middle of the two long steps (issue #8): the run
 * ends at once with 143 / 130 and one line, its temp files are gone, the lock is released, and the cache is empty.
 * The bound is the lock's grace period (2 s, system/lock.ts) plus the margin; in practice it is immediate.
 */
const EXIT = { SIGTERM: 143, SIGINT: 130 } as const;
const GRACE_MS = 2_000;
const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

function partsIn(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.includes('.part')) : [];
}

describe.runIf(isRoot)('a signal during a download', () => {
  it.each(SIGNALS)('%s: the partial download is removed, the lock released, exit 143/130', async (signal) => {
    const k = new FaultHost();
    // Headers and 100 bytes of a body that never ends: the run sits in the middle of writing its temp file.
    const server = await faultServer((_req, res) => {
      res.writeHead(200, { 'content-length': '1000000' });
      res.write(Buffer.alloc(100, 0x7f));
    });
    const run = start([], k.env({ DRIVERS_REPO: server.origin, DRIVER_CURL_OPTIONS: '-m 30' }));
    await until(() => partsIn(k.cacheDir()).length === 1, 'the temp file of the download');
    expect(isLocked(path.join(k.home, '.falco', '.lock'))).toBe(true);
    const t0 = performance.now();
    run.child.kill(signal);
    const result = await run.done;
    expect(performance.now() - t0).toBeLessThan(GRACE_MS + MARGIN_MS);
    expect(result.code).toBe(EXIT[signal]);
    expect(result.stderr).toBe(`falco-driver-loader: interrupted by ${signal}\n`);
    expect(result.stdout).not.toContain('Trying to load a system');
    k.expectCache('empty');
  });

  it('SIGKILL cannot clean up: the next run removes the dead run’s temp file and completes', async () => {
    const k = new FaultHost();
    let stall = true;
    const server = await faultServer((_req, res) => {
      if (!stall) {
        res.writeHead(200, { 'content-length': String(k.good.length) }).end(k.good);
        return;
      }
      res.writeHead(200, { 'content-length': '1000000' });
      res.write(Buffer.alloc(100, 0x7f));
    });
    const env = k.env({ DRIVERS_REPO: server.origin, DRIVER_CURL_OPTIONS: '-m 30' });
    const killed = start([], env);
    await until(() => partsIn(k.cacheDir()).length === 1, 'the temp file of the download');
    killed.child.kill('SIGKILL');
    expect((await killed.done).signal).toBe('SIGKILL');
    expect(partsIn(k.cacheDir())).toHaveLength(1); // what SIGKILL leaves: nothing could have removed it

    stall = false;
    const result = await start([], env).done;
    expectNoStack(result.stderr);
    expect(result.code).toBe(0);
    k.expectCache('valid'); // no temp file left, and the stale lock of the killed run was taken over
  });
});

describe.runIf(isRoot)('a signal during a build', () => {
  it.each(SIGNALS)('%s: dkms is stopped, the make wrapper removed, the lock released, exit 143/130', async (signal) => {
    const k = new FaultHost({ without: [] });
    k.headers();
    // A dkms whose build takes "forever"; it records its pid so the test can see that it was stopped.
    // Like dkms → make → cc: it starts a compiler of its own (a grandchild of the loader) and, to be hard to stop,
    // ignores SIGTERM itself (issue #13: the compilers kept running after the loader had exited).
    k.bin.add(
      'dkms',
      `case "$1" in
status) exit 0 ;;
install) trap '' TERM; sleep 30 & echo $! > "$FALCO_DRIVER_LOADER_SYSROOT/fake/cc.pid"
  echo $$ > "$FALCO_DRIVER_LOADER_SYSROOT/fake/dkms.pid"; while :; do sleep 1; done ;;
esac
exit 0`,
    );
    const pidFile = path.join(k.sysroot, 'fake', 'dkms.pid');
    const env = k.env({ FAKE_DKMS_MODULE: moduleFor(k.release) });
    const run = start(['--compile'], env);
    await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'), 'dkms install to start');
    const dkmsPid = Number(readFileSync(pidFile, 'utf8'));
    const ccPid = Number(readFileSync(path.join(k.sysroot, 'fake', 'cc.pid'), 'utf8'));
    expect(leftovers(k.tmp)).toEqual([expect.stringMatching(/\/falco-dkms-make-\w{6}$/)]);
    const t0 = performance.now();
    run.child.kill(signal);
    const result = await run.done;
    expect(performance.now() - t0).toBeLessThan(GRACE_MS + MARGIN_MS);
    expect(result.code).toBe(EXIT[signal]);
    expect(result.stderr).toBe(`falco-driver-loader: interrupted by ${signal}\n`);
    expect(result.stdout).not.toContain('Running dkms build failed');
    await until(() => !isAlive(dkmsPid), 'dkms to be stopped');
    await until(() => !isAlive(ccPid), 'the compiler dkms started to be stopped');
    k.expectCache('empty'); // includes: no make wrapper left in TMPDIR, lock free
  });
});

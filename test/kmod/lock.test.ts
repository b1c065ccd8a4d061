import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireLock } from '../../src/system/lock.js';
import { bundle } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';
import { FakeKernel } from './fakeKernel.js';

const lockFile = (k: FakeKernel) => path.join(k.home, '.falco', '.lock');
const quiet = { log: () => undefined, warn: () => undefined };

/** A pid that is certainly not running: a process that has already exited. */
function deadPid(): number {
  const child = spawnSync('true');
  expect(child.pid).toBeGreaterThan(0);
  return child.pid as number;
}

/** Whether another process could take the lock now (flock(1) -n from outside: exit 0 = free). */
const lockIsFree = (file: string) => spawnSync('flock', ['-x', '-n', file, 'true']).status === 0;

/** A process holding the lock on `file` (in a PID namespace of its own), as a run in another container would. */
async function foreignHolder(file: string): Promise<ChildProcess> {
  const child = spawn('unshare', ['--pid', '--fork', '--kill-child', 'flock', '-x', file, 'sleep', '30'], {
    stdio: 'ignore',
  });
  for (let i = 0; i < 100 && lockIsFree(file); i++) await new Promise((r) => setTimeout(r, 20));
  expect(lockIsFree(file)).toBe(false);
  return child;
}

describe('the run lock', () => {
  it('is a kernel lock (flock) on the file, which stays; release frees it', async () => {
    const file = path.join(tempDir(), 'sub', '.lock');
    const held = await acquireLock({ file, timeoutMs: 0, ...quiet });
    expect(lockIsFree(file)).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe(`${process.pid}\n`);
    held.release();
    expect(lockIsFree(file)).toBe(true);
    expect(existsSync(file)).toBe(true);
  });

  it.each([
    ['pid 1 (alive in every container)', '1 abc\n'],
    ['our own pid', `${process.pid} abc\n`],
    ['a dead pid', 'DEAD old\n'],
  ])('a lock file left by a killed run naming %s does not make anyone wait (issue #13)', async (_n, content) => {
    const file = path.join(tempDir(), '.lock');
    writeFileSync(file, content.replace('DEAD', String(deadPid())));
    const lines: string[] = [];
    const held = await acquireLock({ file, timeoutMs: 0, log: (l) => lines.push(l), warn: (l) => lines.push(l) });
    expect(lines).toEqual([]);
    expect(readFileSync(file, 'utf8')).toBe(`${process.pid}\n`);
    held.release();
  });

  it('a live holder in another PID namespace is waited for, whatever pid its file names (issue #13)', async () => {
    const file = path.join(tempDir(), '.lock');
    writeFileSync(file, `${deadPid()} from-another-namespace\n`);
    const holder = await foreignHolder(file);
    try {
      const lines: string[] = [];
      const attempt = acquireLock({
        file,
        timeoutMs: 300,
        pollMs: 50,
        log: (l) => lines.push(l),
        warn: (l) => lines.push(l),
      });
      await expect(attempt).rejects.toThrow(/^Another falco-driver-loader \(pid \d+\) still holds .* after 0\.3 s/);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^\* Waiting for another falco-driver-loader/);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it.each([
    ['a directory', (f: string) => mkdirSync(f)],
    ['a dangling symlink', (f: string) => symlinkSync(path.join(path.dirname(f), 'nowhere'), f)],
    ['a FIFO', (f: string) => execFileSync('mkfifo', [f])],
  ])('%s at the lock path: one warning, no spin, no hang (issue #13)', async (_n, make) => {
    const file = path.join(tempDir(), '.lock');
    make(file);
    const lines: string[] = [];
    const held = await acquireLock({ file, timeoutMs: 1000, log: (l) => lines.push(l), warn: (l) => lines.push(l) });
    held.release();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[WARNING\] Cannot use the lock file .*\.lock \(.*\): running without protection/);
  });

  it('a second run gives up after the timeout with one line naming the holder', async () => {
    const k = new FakeKernel();
    const held = await acquireLock({ file: lockFile(k), timeoutMs: 0, ...quiet });
    try {
      const result = await k.run(['--clean'], { FALCO_DRIVER_LOADER_LOCK_TIMEOUT_SECONDS: '0.3' });
      expect(result.stdout).toContain(
        `* Waiting for another falco-driver-loader (pid ${process.pid}) to finish (lock ${lockFile(k)}, up to 0.3 s)\n`,
      );
      expect(result.stdout).not.toContain('Cleaning phase');
      expect(result.stderr).toBe(
        `Another falco-driver-loader (pid ${process.pid}) still holds ${lockFile(k)} after 0.3 s: wait for it to finish (the kernel releases its lock when it exits, however it exits)\n`,
      );
      expect(result.code).toBe(1);
      expect(k.calls()).toEqual([]);
    } finally {
      held.release();
    }
  });

  it('a second concurrent run waits for the first to finish, then runs', async () => {
    const k = new FakeKernel();
    k.preload('falco');
    k.write('fake/rmmod-failures', '3\n');
    const env = { FALCO_DRIVER_LOADER_RMMOD_WAIT_SECONDS: '0.2' };
    const first = k.run(['--clean'], env);
    await new Promise((r) => setTimeout(r, 100));
    const second = k.run(['--clean'], env);
    const [a, b] = await Promise.all([first, second]);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(a.stdout).not.toContain('Waiting for another');
    expect(b.stdout).toContain(`* Waiting for another falco-driver-loader (pid ${process.pid}) to finish`);
    // The second run only looked at the kernel after the first had unloaded the module.
    expect(b.stdout).toContain("- OK! There is no 'falco' module loaded.");
    const calls = k.calls();
    expect(calls.lastIndexOf('rmmod falco')).toBeLessThan(calls.lastIndexOf('lsmod '));
    expect(lockIsFree(lockFile(k))).toBe(true);
  });
});

describe('signals (real process)', () => {
  function start(k: FakeKernel, extra: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string } {
    const child = spawn(process.execPath, [bundle, '--clean'], { env: k.env(extra) });
    let text = '';
    child.stdout?.on('data', (d: Buffer) => {
      text += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      text += d.toString();
    });
    return { child, output: () => text };
  }

  async function until(check: () => boolean): Promise<void> {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(check()).toBe(true);
  }

  const exited = (child: ChildProcess) =>
    new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  it('SIGTERM while waiting between rmmod attempts: lock released, exit 143', async () => {
    const k = new FakeKernel();
    k.preload('falco');
    k.write('fake/rmmod-failures', '99\n');
    const { child, output } = start(k, { FALCO_DRIVER_LOADER_RMMOD_WAIT_SECONDS: '30' });
    const done = exited(child);
    await until(() => output().includes('- Sleep 30 seconds...'));
    expect(lockIsFree(lockFile(k))).toBe(false);
    child.kill('SIGTERM');
    expect(await done).toBe(143);
    expect(output()).toContain('falco-driver-loader: interrupted by SIGTERM\n');
    expect(output()).not.toContain('[SUCCESS]');
    expect(lockIsFree(lockFile(k))).toBe(true);
  });

  it('SIGINT while a program runs: lock released at once, exit 130 within the grace period', async () => {
    const k = new FakeKernel();
    k.bin.add('lsmod', 'exec sleep 20');
    const { child, output } = start(k, {});
    const done = exited(child);
    await until(() => k.callsOf('lsmod').length > 0);
    const t0 = Date.now();
    child.kill('SIGINT');
    await until(() => lockIsFree(lockFile(k)));
    expect(await done).toBe(130);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(output()).toContain("* 1. Check if kernel module 'falco' is still loaded:\n");
    expect(output()).not.toContain('There is no');
    expect(output()).toContain('falco-driver-loader: interrupted by SIGINT\n');
  });

  it('SIGKILL (OOM killer): the kernel frees the lock, and the next run in a new PID-1 world does not wait', async () => {
    const k = new FakeKernel();
    k.preload('falco');
    k.write('fake/rmmod-failures', '99\n');
    const { child, output } = start(k, { FALCO_DRIVER_LOADER_RMMOD_WAIT_SECONDS: '30' });
    const done = exited(child);
    await until(() => output().includes('- Sleep 30 seconds...'));
    expect(lockIsFree(lockFile(k))).toBe(false);
    child.kill('SIGKILL');
    await done;
    writeFileSync(lockFile(k), '1\n'); // what a loader running as PID 1 in its image leaves behind
    k.write('fake/rmmod-failures', '0\n');
    const next = await k.run(['--clean'], { FALCO_DRIVER_LOADER_LOCK_TIMEOUT_SECONDS: '0' });
    expect(next.stdout).not.toContain('Waiting for another');
    expect(next.code).toBe(0);
  });
});

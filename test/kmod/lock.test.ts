import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireLock, isAlive } from '../../src/system/lock.js';
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

describe('the run lock', () => {
  it('is an O_EXCL file holding our pid, removed on release', async () => {
    const file = path.join(tempDir(), 'sub', '.lock');
    const held = await acquireLock({ file, timeoutMs: 0, ...quiet });
    expect(readFileSync(file, 'utf8')).toMatch(new RegExp(`^${process.pid} [0-9a-f]{16}\\n$`));
    held.release();
    expect(existsSync(file)).toBe(false);
  });

  it('takes over a lock whose process is gone', async () => {
    const file = path.join(tempDir(), '.lock');
    const dead = deadPid();
    expect(isAlive(dead)).toBe(false);
    writeFileSync(file, `${dead} abc\n`);
    const lines: string[] = [];
    const held = await acquireLock({ file, timeoutMs: 0, log: (l) => lines.push(l), warn: (l) => lines.push(l) });
    expect(readFileSync(file, 'utf8')).toContain(`${process.pid} `);
    expect(lines).toEqual([]);
    held.release();
  });

  it('does not release a lock that someone else took over', async () => {
    const file = path.join(tempDir(), '.lock');
    const held = await acquireLock({ file, timeoutMs: 0, ...quiet });
    writeFileSync(file, '1 someone-else\n');
    held.release();
    expect(readFileSync(file, 'utf8')).toBe('1 someone-else\n');
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
        `Another falco-driver-loader (pid ${process.pid}) still holds ${lockFile(k)} after 0.3 s: wait for it to finish, or remove the file if that process is not a falco-driver-loader\n`,
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
    expect(existsSync(lockFile(k))).toBe(false);
  });

  it('a stale lock from a dead run does not block the next one', async () => {
    const k = new FakeKernel();
    mkdirSync(path.dirname(lockFile(k)), { recursive: true });
    writeFileSync(lockFile(k), `${deadPid()} old\n`);
    const result = await k.run(['--clean'], { FALCO_DRIVER_LOADER_LOCK_TIMEOUT_SECONDS: '0' });
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('Waiting for another');
    expect(existsSync(lockFile(k))).toBe(false);
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
    expect(existsSync(lockFile(k))).toBe(true);
    child.kill('SIGTERM');
    expect(await done).toBe(143);
    expect(output()).toContain('falco-driver-loader: interrupted by SIGTERM\n');
    expect(output()).not.toContain('[SUCCESS]');
    expect(existsSync(lockFile(k))).toBe(false);
  });

  it('SIGINT while a program runs: lock released at once, exit 130 within the grace period', async () => {
    const k = new FakeKernel();
    k.bin.add('lsmod', 'exec sleep 20');
    const { child, output } = start(k, {});
    const done = exited(child);
    await until(() => k.callsOf('lsmod').length > 0);
    const t0 = Date.now();
    child.kill('SIGINT');
    await until(() => !existsSync(lockFile(k)));
    expect(await done).toBe(130);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(output()).toContain("* 1. Check if kernel module 'falco' is still loaded:\n");
    expect(output()).not.toContain('There is no');
    expect(output()).toContain('falco-driver-loader: interrupted by SIGINT\n');
  });
});

import { closeSync, constants, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { lockMsg } from '../cli/messages.js';
import { UserError } from '../errors.js';
import { killRunningGroups, runWithFd, which } from './exec.js';
import { isFile } from './fsCheck.js';

/**
 * One loader at a time (issue #3): two runs at once (an init container restarted while the old one still runs, a
 * package post-install racing a systemd unit) would rmmod each other's module, `dkms remove` each other's build and
 * write the same cache file.
 *
 * The lock is a kernel lock, flock(2) on `$HOME/.falco/.lock` (issue #13): liveness is the kernel's answer, not a
 * guess from a pid, which was wrong across PID namespaces (the loader is PID 1 in its image, so a stale lock named a
 * pid alive everywhere; a holder in another namespace looked dead). Node has no flock(), so util-linux's flock(1)
 * is run on a file descriptor we opened and pass down as its fd 3: the lock belongs to that open file description,
 * which we keep after flock(1) exits, and the kernel drops it when we close it or die (SIGKILL, OOM, crash). The
 * file is never deleted (deleting a flock'd file lets two runs lock two different inodes); it holds the holder's
 * pid, for the "waiting" line only.
 */
export interface LockOptions {
  readonly file: string;
  readonly timeoutMs: number;
  readonly pollMs?: number;
  /** Where the one "waiting" line goes (stdout in the CLI). */
  readonly log: (line: string) => void;
  /** Where the "running without a lock" warning goes (stderr in the CLI). */
  readonly warn: (line: string) => void;
  /** Where flock(1) is looked up (PATH). */
  readonly env?: NodeJS.ProcessEnv;
}

export interface HeldLock {
  release(): void;
}

const EXIT_CODES: Readonly<Partial<Record<NodeJS.Signals, number>>> = { SIGINT: 130, SIGTERM: 143 };
/** After a signal, how long the flow gets to clean up before the process exits anyway (a child may not stop). */
const GRACE_MS = 2000;

/**
 * Runs `body` holding the lock. SIGINT/SIGTERM abort `signal`, which stops the running program's whole process
 * group, so the flow stops between steps, and end the run with 130/143 (a second signal, or a step that does not
 * stop within GRACE_MS, kills what is left and exits at once). The lock is released once nothing of ours runs.
 */
export async function withLock<T>(options: LockOptions, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let held: HeldLock | undefined;
  let caught: NodeJS.Signals | undefined;
  const exitNow = (code: number) => {
    killRunningGroups();
    process.exit(code);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    const code = EXIT_CODES[signal] ?? 1;
    if (caught !== undefined) exitNow(code);
    caught = signal;
    controller.abort(new Error(signal));
    setTimeout(() => {
      options.warn(lockMsg.interrupted(signal));
      exitNow(code);
    }, GRACE_MS).unref();
  };
  const onExit = () => held?.release();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', onExit);
  try {
    held = await acquireLock(options, controller.signal);
    return await body(controller.signal);
  } catch (error) {
    if (caught !== undefined) throw new UserError(lockMsg.interrupted(caught), { exitCode: EXIT_CODES[caught] ?? 1 });
    throw error;
  } finally {
    held?.release();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
  }
}

export async function acquireLock(options: LockOptions, signal?: AbortSignal): Promise<HeldLock> {
  const { file, timeoutMs } = options;
  const pollMs = options.pollMs ?? 250;
  const env = options.env ?? process.env;
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  try {
    mkdirSync(path.dirname(file), { recursive: true });
  } catch (error) {
    return unlocked(options, codeOf(error));
  }
  const flock = findFlock(env);
  if (flock === undefined) return unlocked(options, 'flock(1) from util-linux is not installed');
  const fd = openLockFile(file);
  if (typeof fd === 'string') return unlocked(options, fd);
  try {
    for (;;) {
      signal?.throwIfAborted();
      const status = runWithFd(flock, ['-x', '-n', '3'], fd, env);
      if (status === 0) return heldLock(fd);
      if (status !== 1) {
        closeSync(fd);
        return unlocked(options, `${flock} -x -n failed${status === undefined ? ' to run' : ` with ${status}`}`);
      }
      const pid = holderPid(fd);
      if (Date.now() >= deadline) throw new UserError(lockMsg.timeout(pid, file, timeoutMs / 1000));
      if (!announced) options.log(lockMsg.waiting(pid, file, timeoutMs / 1000));
      announced = true;
      await sleep(Math.max(1, Math.min(pollMs, deadline - Date.now())), undefined, signal ? { signal } : {});
    }
  } catch (error) {
    closeQuietly(fd);
    throw error;
  }
}

/**
 * Opened without following a symlink and without blocking (a FIFO would block open() forever), then checked to be a
 * regular file: anything else at the lock path is one warning, never a spin or a hang (issue #13).
 */
function openLockFile(file: string): number | string {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o644);
  } catch (error) {
    const code = codeOf(error);
    if (code === 'ELOOP') return 'ELOOP: it is a symbolic link; remove it';
    if (code === 'EISDIR') return 'EISDIR: it is a directory; remove it';
    return code;
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    return 'it is not a regular file (a FIFO, socket or device); remove it';
  }
  return fd;
}

/** On PATH, else where util-linux puts it: the lock must not depend on a caller's trimmed PATH. */
function findFlock(env: NodeJS.ProcessEnv): string | undefined {
  return which('flock', env) ?? ['/usr/bin/flock', '/bin/flock'].find((f) => isFile(f));
}

/** A lock that cannot even be created (read-only HOME) must not stop a --clean in a package pre-remove script. */
function unlocked(options: LockOptions, reason: string): HeldLock {
  options.warn(lockMsg.unusable(options.file, reason));
  return { release: () => undefined };
}

function heldLock(fd: number): HeldLock {
  try {
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
  } catch {
    // the pid is informative only
  }
  let released = false;
  return {
    release: () => {
      if (released) return;
      released = true;
      closeQuietly(fd); // the last reference to the open file description: the kernel drops the flock
    },
  };
}

/** The pid the holder wrote (in its own PID namespace: informative only), or 0 when there is none yet. */
function holderPid(fd: number): number {
  try {
    const buffer = Buffer.alloc(32);
    const pid = Number(
      buffer
        .subarray(0, readSync(fd, buffer, 0, 32, 0))
        .toString('latin1')
        .trim(),
    );
    return Number.isSafeInteger(pid) && pid > 0 ? pid : 0;
  } catch {
    return 0;
  }
}

function codeOf(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { lockMsg } from '../cli/messages.js';
import { UserError } from '../errors.js';

/**
 * One loader at a time (issue #3): two runs at once (an init container restarted while the old one still runs, a
 * package post-install racing a systemd unit) would rmmod each other's module, `dkms remove` each other's build and
 * write the same cache file. The lock is a file created with O_EXCL holding `<pid> <token>`; a lock whose pid is
 * gone is stale and taken over.
 */
export interface LockOptions {
  readonly file: string;
  readonly timeoutMs: number;
  readonly pollMs?: number;
  /** Where the one "waiting" line goes (stdout in the CLI). */
  readonly log: (line: string) => void;
  /** Where the "running without a lock" warning goes (stderr in the CLI). */
  readonly warn: (line: string) => void;
}

export interface HeldLock {
  release(): void;
}

const EXIT_CODES: Readonly<Partial<Record<NodeJS.Signals, number>>> = { SIGINT: 130, SIGTERM: 143 };
/** After a signal, how long the flow gets to clean up before the process exits anyway (a child may not stop). */
const GRACE_MS = 2000;
/** A lock file without a readable pid is being written right now, unless it is older than this. */
const UNREADABLE_STALE_MS = 5000;

/**
 * Runs `body` holding the lock. SIGINT/SIGTERM release the lock at once, abort `signal` so the flow stops between
 * steps, and end the run with 130/143 (a second signal, or a step that does not stop within GRACE_MS, exits at once).
 */
export async function withLock<T>(options: LockOptions, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let held: HeldLock | undefined;
  let caught: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    const code = EXIT_CODES[signal] ?? 1;
    if (caught !== undefined) process.exit(code);
    caught = signal;
    held?.release();
    controller.abort(new Error(signal));
    setTimeout(() => {
      options.warn(lockMsg.interrupted(signal));
      process.exit(code);
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
  const content = `${process.pid} ${randomBytes(8).toString('hex')}\n`;
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  try {
    mkdirSync(path.dirname(file), { recursive: true });
  } catch (error) {
    return unlocked(options, error);
  }
  for (;;) {
    signal?.throwIfAborted();
    let created: boolean;
    try {
      created = createExclusive(file, content);
    } catch (error) {
      return unlocked(options, error);
    }
    if (created) return heldLock(file, content);
    const holder = readHolder(file);
    if (holder === undefined) continue; // released between our attempt and the read: try again at once
    if (holder.stale) {
      await takeOver(file, holder.content, pollMs, signal);
      continue;
    }
    const pid = holder.pid ?? 0;
    if (Date.now() >= deadline) throw new UserError(lockMsg.timeout(pid, file, timeoutMs / 1000));
    if (!announced) options.log(lockMsg.waiting(pid, file, timeoutMs / 1000));
    announced = true;
    await sleep(Math.max(1, Math.min(pollMs, deadline - Date.now())), undefined, signal ? { signal } : {});
  }
}

/** A lock that cannot even be created (read-only HOME) must not stop a --clean in a package pre-remove script. */
function unlocked(options: LockOptions, error: unknown): HeldLock {
  const code = (error as NodeJS.ErrnoException).code ?? String(error);
  options.warn(lockMsg.unusable(options.file, code));
  return { release: () => undefined };
}

function createExclusive(file: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

function heldLock(file: string, content: string): HeldLock {
  let released = false;
  return {
    release: () => {
      if (released) return;
      released = true;
      // Only our own lock: after a takeover the file may belong to someone else.
      if (readText(file) === content) unlinkQuietly(file);
    },
  };
}

interface Holder {
  readonly content: string;
  readonly pid: number | undefined;
  readonly stale: boolean;
}

function readHolder(file: string): Holder | undefined {
  const content = readText(file);
  if (content === undefined) return undefined;
  const pid = Number(content.split(/\s/)[0]);
  if (Number.isSafeInteger(pid) && pid > 0) return { content, pid, stale: !isAlive(pid) };
  return { content, pid: undefined, stale: ageMs(file) > UNREADABLE_STALE_MS };
}

/**
 * Two runs may find the same stale lock; a second exclusive file makes sure only one of them deletes it, and only
 * if it still holds what was judged stale (so a fresh lock taken meanwhile survives).
 */
async function takeOver(file: string, staleContent: string, pollMs: number, signal?: AbortSignal): Promise<void> {
  const guard = `${file}.takeover`;
  if (createExclusive(guard, `${process.pid}\n`)) {
    try {
      if (readText(file) === staleContent) unlinkQuietly(file);
    } finally {
      unlinkQuietly(guard);
    }
    return;
  }
  if (ageMs(guard) > UNREADABLE_STALE_MS) unlinkQuietly(guard);
  await sleep(pollMs, undefined, signal ? { signal } : {});
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

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function ageMs(file: string): number {
  try {
    return Date.now() - statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

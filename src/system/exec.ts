import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

/**
 * The one door to other programs: every external program (insmod, rmmod, lsmod, modprobe, dkms, chcon, mount, make,
 * gcc*, falcoctl, falco) is found through PATH and started here, without a shell, with an argument vector.
 * execa is loaded only when a program is actually run, so --help and --print-env stay cheap.
 */
export interface RunResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Set when the program could not be started at all (ENOENT, EACCES) or was killed by the timeout. */
  readonly failure: string | undefined;
}

export interface RunOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
  /** 'inherit' shows the program's output to the user, as the legacy script did for rmmod/insmod errors. */
  readonly stdout?: 'pipe' | 'inherit' | 'ignore';
  readonly stderr?: 'pipe' | 'inherit' | 'ignore';
  /**
   * The run's SIGINT/SIGTERM (system/lock.ts): the program is terminated, and run() rejects with the signal's reason
   * instead of returning, so no step goes on after an interrupt. Without it a dkms build outlived the loader and
   * the make wrapper was left in TMPDIR (issue #8).
   */
  readonly signal?: AbortSignal;
}

/**
 * An interruptible program runs as the leader of its own process group (detached), so that an interrupt or a timeout stops
 * what it started too: dkms runs make, make runs the compiler, and signalling dkms alone left those running after
 * the loader had exited and released its lock (issue #13). Groups still running are listed here for the exit path.
 */
const liveGroups = new Set<number>();
const KILL_AFTER_MS = 1000;

/** SIGKILL to every process group still running: the last thing the loader does when it exits on a signal. */
export function killRunningGroups(): void {
  for (const pgid of liveGroups) signalGroup(pgid, 'SIGKILL');
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is already gone
  }
}

export async function run(program: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const { execa } = await import('execa');
  options.signal?.throwIfAborted();
  const child = execa(program, args, {
    env: options.env,
    extendEnv: false,
    reject: false,
    // Only an interruptible run gets a group of its own: we forward the interrupt to it. Any other program (falcoctl,
    // a version probe) stays in ours, so a terminal's Ctrl-C still reaches it directly.
    detached: options.signal !== undefined,
    stdin: 'ignore',
    stdout: options.stdout ?? 'pipe',
    stderr: options.stderr ?? 'pipe',
    ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
    encoding: 'utf8',
    stripFinalNewline: false,
  });
  const pgid = options.signal === undefined ? undefined : child.pid;
  let stopTimer: NodeJS.Timeout | undefined;
  const stop = () => {
    if (pgid === undefined) return;
    signalGroup(pgid, 'SIGTERM');
    stopTimer = setTimeout(() => signalGroup(pgid, 'SIGKILL'), KILL_AFTER_MS);
    stopTimer.unref();
  };
  if (pgid !== undefined) liveGroups.add(pgid);
  options.signal?.addEventListener('abort', stop, { once: true });
  let result: Awaited<typeof child> | undefined;
  try {
    result = await child;
  } finally {
    options.signal?.removeEventListener('abort', stop);
    // A timed-out or interrupted program may leave children behind in its group: none may outlive the step.
    const cut = options.signal?.aborted === true || result === undefined || result.timedOut;
    if (pgid !== undefined && cut) signalGroup(pgid, 'SIGKILL');
    if (stopTimer !== undefined) clearTimeout(stopTimer);
    if (pgid !== undefined) liveGroups.delete(pgid);
  }
  options.signal?.throwIfAborted();
  const failure = result.failed && result.exitCode === undefined ? result.shortMessage : undefined;
  return {
    exitCode: result.exitCode ?? 1,
    stdout: typeof result.stdout === 'string' ? result.stdout : '',
    stderr: typeof result.stderr === 'string' ? result.stderr : '',
    failure,
  };
}

/**
 * `program args` with our open file `fd` as its fd 3, synchronously: flock(1) locks the open file description,
 * which this process keeps after flock exits (system/lock.ts). Returns the exit code, or undefined if it could not run.
 */
export function runWithFd(
  program: string,
  args: readonly string[],
  fd: number,
  env: NodeJS.ProcessEnv,
): number | undefined {
  const result = spawnSync(program, args, { env, stdio: ['ignore', 'ignore', 'ignore', fd], timeout: 10_000 });
  return result.error === undefined && result.status !== null ? result.status : undefined;
}

/** `command -v`: the first executable regular file named `program` on PATH, without spawning anything. */
export function which(program: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(':')) {
    if (dir === '') continue;
    const candidate = path.join(dir, program);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

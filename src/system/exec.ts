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

export async function run(program: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const { execa } = await import('execa');
  const result = await execa(program, args, {
    env: options.env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    stdout: options.stdout ?? 'pipe',
    stderr: options.stderr ?? 'pipe',
    ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
    ...(options.signal === undefined ? {} : { cancelSignal: options.signal }),
    encoding: 'utf8',
    stripFinalNewline: false,
  });
  options.signal?.throwIfAborted();
  const failure = result.failed && result.exitCode === undefined ? result.shortMessage : undefined;
  return {
    exitCode: result.exitCode ?? 1,
    stdout: typeof result.stdout === 'string' ? result.stdout : '',
    stderr: typeof result.stderr === 'string' ? result.stderr : '',
    failure,
  };
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

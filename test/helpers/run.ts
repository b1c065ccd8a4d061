import { spawnSync } from 'node:child_process';
import { main } from '../../src/main.js';
import type { Platform } from '../../src/system/platform.js';
import { bundle } from './paths.js';

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

export const fakePlatform = (over: Partial<Record<keyof Platform, unknown>> = {}): Platform => ({
  kernelRelease: () => (over.kernelRelease as string | undefined) ?? '6.1.0-13-amd64',
  kernelVersion: () =>
    (over.kernelVersion as string | undefined) ?? '#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)',
  machine: () => (over.machine as string | undefined) ?? 'x86_64',
  uid: () => (over.uid as number | undefined) ?? 0,
});

/** Runs main() in-process with a fake platform: fast, for table-style CLI checks. */
export async function runMain(argv: string[], env: NodeJS.ProcessEnv, platform = fakePlatform()): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const code = await main(
    argv,
    env,
    {
      out: (t) => {
        stdout += t;
      },
      err: (t) => {
        stderr += t;
      },
    },
    platform,
  );
  return { code, stdout, stderr };
}

/** Runs the built bundle as a real process, with exactly the given environment. */
export function runCli(argv: string[], env: NodeJS.ProcessEnv, options: { uid?: number } = {}): Outcome {
  const result = spawnSync(process.execPath, [bundle, ...argv], {
    env,
    encoding: 'utf8',
    timeout: 20_000,
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }),
  });
  if (result.error) throw result.error;
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** A minimal environment: PATH given by the test, nothing inherited that could change the outcome. */
export function baseEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: '/usr/bin:/bin', ...extra };
}

import { quoted } from '../cli/text.js';
import { UserError } from '../errors.js';

/**
 * A non-negative number of seconds from the environment (e.g. FALCO_DRIVER_LOADER_RMMOD_WAIT_SECONDS), or the
 * fallback when unset or empty. Tests set these to 0 so no test sleeps.
 */
export function envSeconds(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    throw new UserError(`${name}=${quoted(raw)} is not a number of seconds: use e.g. ${fallback}, or unset it`);
  }
  return value;
}

/** Environment variables added by issue #3 (README lists them). */
export const ENV = {
  rmmodWait: 'FALCO_DRIVER_LOADER_RMMOD_WAIT_SECONDS',
  lockTimeout: 'FALCO_DRIVER_LOADER_LOCK_TIMEOUT_SECONDS',
} as const;

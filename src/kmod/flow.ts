import path from 'node:path';
import { kmodMsg, msg } from '../cli/messages.js';
import type { Context } from '../context.js';
import { UserError } from '../errors.js';
import { createSigner } from '../sign/setup.js';
import { run, which } from '../system/exec.js';
import { type LockOptions, withLock } from '../system/lock.js';
import { cleanKmod } from './clean.js';
import { buildWithDkms } from './dkms.js';
import { ENV, envSeconds } from './env.js';
import { confirmLoaded } from './insmod.js';
import { downloadAndLoad, loadCached } from './prebuilt.js';
import { type KmodSession, newSession, say, warn } from './session.js';

const DEFAULT_LOCK_TIMEOUT_SECONDS = 120;

/**
 * Module mode (legacy-loader.md §B.6): Cleaning phase → cached module → each repository → DKMS per gcc → modprobe →
 * failure. Exit 0 as soon as a module is loaded, 1 when nothing worked (§B.9).
 */
export async function runKmod(ctx: Context): Promise<number> {
  ctx.io.out(`${msg.runWith('module', ctx.enableCompile, ctx.enableDownload)}\n`);
  // A bad key or certificate stops the run here, before the Cleaning phase unloads anything (issue #10).
  const signer = createSigner(
    ctx,
    (line) => ctx.io.out(`${line}\n`),
    (line) => ctx.io.err(`${line}\n`),
  );
  return withLock(lockOptions(ctx), async (signal) => {
    const s = newSession(ctx, signal, signer);
    await cleanKmod(s, { mustUnload: true });
    if (await loadCached(s)) return 0;
    if (ctx.enableDownload && (await downloadAndLoad(s))) return 0;
    if (ctx.enableCompile && (await buildWithDkms(s))) return 0;
    if (await loadWithModprobe(s)) return 0;
    warn(s, kmodMsg.consider(ctx.settings.driverName.value));
    return 1;
  });
}

/**
 * `--clean` (§B.5): the Cleaning phase alone, exit 0 even with warnings. The deb/rpm pre-remove scripts run it.
 * Every driver but bpf cleans the kernel module: there is nothing else to clean, and no kmod should outlive it.
 */
export async function runClean(ctx: Context): Promise<number> {
  const driver = ctx.settings.driver.value;
  ctx.io.out(`${msg.cleanWith(driver === 'kmod' ? 'module' : driver === 'ebpf' ? 'bpf' : driver)}\n`);
  if (driver === 'ebpf') throw new UserError(msg.cleanBpf);
  return withLock(lockOptions(ctx), async (signal) => {
    await cleanKmod(newSession(ctx, signal));
    return 0;
  });
}

/** §B.6.5: a module installed on the system (an earlier dkms install, a distro package); output hidden as legacy. */
async function loadWithModprobe(s: KmodSession): Promise<boolean> {
  s.signal.throwIfAborted();
  const name = s.ctx.settings.driverName.value;
  say(s, kmodMsg.tryingModprobe(name));
  const modprobe = which('modprobe', s.ctx.env);
  if (modprobe === undefined) return false;
  const result = await run(modprobe, [name], {
    env: s.ctx.env,
    timeoutMs: 120_000,
    signal: s.signal,
    stdout: 'ignore',
    stderr: 'ignore',
  });
  if (result.exitCode !== 0 || result.failure !== undefined || !confirmLoaded(s, 'modprobe')) return false;
  say(s, kmodMsg.modprobeLoaded(name));
  return true;
}

/** `$HOME/.falco/.lock`, beside the cache it protects. */
export function lockOptions(ctx: Context): LockOptions {
  return {
    file: path.join(ctx.settings.home, '.falco', '.lock'),
    timeoutMs: envSeconds(ctx.env, ENV.lockTimeout, DEFAULT_LOCK_TIMEOUT_SECONDS) * 1000,
    log: (line) => ctx.io.out(`${line}\n`),
    warn: (line) => ctx.io.err(`${line}\n`),
    env: ctx.env,
  };
}

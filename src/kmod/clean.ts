import { setTimeout as sleep } from 'node:timers/promises';
import { kmodMsg, kmodNote } from '../cli/messages.js';
import { UserError } from '../errors.js';
import { run, which } from '../system/exec.js';
import { ENV, envSeconds } from './env.js';
import { describeUse, moduleUse } from './holders.js';
import { type KmodSession, relay, say } from './session.js';

/** legacy-loader.md §B.6.1: 10 rmmod attempts (MAX_RMMOD_WAIT was read but ignored from 0.32 on, §B.12.2). */
const MAX_RMMOD_ATTEMPTS = 10;
const DEFAULT_RMMOD_WAIT_SECONDS = 5;

/**
 * The Cleaning phase of §B.6.1, line for line: unload the module if lsmod lists it, then `dkms remove --all` every
 * version dkms knows. Runs first in every module run and alone for --clean (the deb/rpm pre-remove scripts).
 * `mustUnload` (module runs): a module still loaded after the rmmod attempts ends the run (issue #14, below).
 */
export async function cleanKmod(s: KmodSession, { mustUnload = false }: { mustUnload?: boolean } = {}): Promise<void> {
  const { env } = s.ctx;
  const waitSeconds = envSeconds(env, ENV.rmmodWait, DEFAULT_RMMOD_WAIT_SECONDS);
  say(s, '');
  say(s, kmodMsg.cleaningBanner);
  say(s, '');
  const lsmod = which('lsmod', env);
  if (lsmod === undefined) throw new UserError(kmodMsg.requiresLsmod);
  const rmmod = which('rmmod', env);
  if (rmmod === undefined) throw new UserError(kmodMsg.requiresRmmod);
  const k = s.ctx.plan.kmodName;
  say(s, kmodMsg.checkLoaded(k));
  if ((await unload(s, { lsmod, rmmod, waitSeconds, warnIfLoaded: !mustUnload })) && mustUnload) {
    // Issue #14 (a package upgrade under a running Falco): legacy warned and went on, so insmod failed with "File
    // exists", or modprobe "succeeded" with the module already there, after dkms remove had deleted the files of
    // the running module. Stop before changing anything, and say what holds it.
    throw new UserError(kmodNote.inUse(k, MAX_RMMOD_ATTEMPTS, describeUse(moduleUse(s.ctx.settings.sysroot, k))));
  }
  const dkms = which('dkms', env);
  if (dkms === undefined) say(s, kmodMsg.skipDkmsRemove);
  else await removeFromDkms(s, dkms);
  say(s, '');
  say(s, kmodMsg.cleaningDone);
  say(s, '');
  say(s, kmodMsg.cleaningBanner);
  say(s, '');
}

/** Returns whether the module is still loaded after the attempts. */
async function unload(
  s: KmodSession,
  opts: { lsmod: string; rmmod: string; waitSeconds: number; warnIfLoaded: boolean },
): Promise<boolean> {
  const { lsmod, rmmod, waitSeconds } = opts;
  const k = s.ctx.plan.kmodName;
  let loaded = await isLoaded(s, lsmod);
  if (!loaded) {
    say(s, kmodMsg.notLoaded(k));
    say(s, '');
    return false;
  }
  // Successes count too: a module that rmmod "unloads" but lsmod still lists must not loop forever.
  for (let attempt = 0; loaded && attempt < MAX_RMMOD_ATTEMPTS; attempt++) {
    say(s, kmodMsg.stillLoaded(k));
    say(s, kmodMsg.tryingRmmod(k));
    const result = await run(rmmod, [k], { env: s.ctx.env, timeoutMs: 60_000, signal: s.signal });
    relay(s, result, { stdout: true, stderr: true });
    if (result.exitCode === 0 && result.failure === undefined) {
      say(s, kmodMsg.unloaded(k));
      say(s, '');
    } else {
      say(s, kmodMsg.rmmodWaiting);
      say(s, kmodMsg.rmmodCheck(k));
      say(s, kmodMsg.rmmodSleep(waitSeconds));
      say(s, '');
      await sleep(waitSeconds * 1000, undefined, { signal: s.signal });
    }
    loaded = await isLoaded(s, lsmod);
  }
  // Legacy warned after 10 failures; here only if it is really still there (it may have gone during the last wait).
  if (loaded && opts.warnIfLoaded) {
    say(s, kmodMsg.stillLoadedWarning(k));
    say(s, '');
  }
  return loaded;
}

/** `lsmod | cut -d' ' -f1 | grep -qx <name>`: an exact match on the first column (0.27, falco#1468). */
async function isLoaded(s: KmodSession, lsmod: string): Promise<boolean> {
  const result = await run(lsmod, [], { env: s.ctx.env, timeoutMs: 30_000, signal: s.signal });
  return result.stdout.split('\n').some((line) => line.split(' ')[0] === s.ctx.plan.kmodName);
}

async function removeFromDkms(s: KmodSession, dkms: string): Promise<void> {
  const k = s.ctx.plan.kmodName;
  say(s, kmodMsg.checkDkms(k));
  const status = await run(dkms, ['status', '-m', k], { env: s.ctx.env, timeoutMs: 60_000, signal: s.signal });
  relay(s, status, { stdout: false, stderr: true });
  const versions = parseDkmsStatus(status.stdout, k);
  if (versions.length === 0) {
    say(s, kmodMsg.noDkmsVersions(k));
  } else {
    say(s, kmodMsg.someDkmsVersions(k));
    say(s, '');
    say(s, kmodMsg.removingAll);
    say(s, versions.join('\n'));
    say(s, '');
  }
  for (const version of versions) {
    s.signal.throwIfAborted();
    say(s, kmodMsg.removing(version));
    const result = await run(dkms, ['remove', '-m', k, '-v', version, '--all'], {
      env: s.ctx.env,
      timeoutMs: 300_000,
      signal: s.signal,
    });
    relay(s, result, { stdout: true, stderr: true });
    if (result.exitCode === 0 && result.failure === undefined) {
      say(s, '');
      say(s, kmodMsg.removed(version));
      say(s, '');
    } else {
      say(s, kmodMsg.removeFailed(k, version));
    }
  }
}

/**
 * Versions from `dkms status -m <name>`, old (`falco, 6.0.1+driver, 6.1.0-13-amd64, x86_64: installed`) and new
 * (`falco/6.0.1+driver, 6.1.0-13-amd64, x86_64: installed`) formats: drop `,` and `:`, `/` → space, field 2
 * (legacy `tr | cut -d' ' -f2`, falcoctl does the same). One line per kernel, so duplicates are dropped: the
 * legacy script removed the same version again and printed a false [WARNING]. Only lines about `name` count, and
 * only versions made of version characters: dkms that cannot make its temp file (a read-only root file system)
 * dumps its configuration (`source_tree[0]="/usr/src"`) on stdout, which the legacy parsing turned into
 * `dkms remove -v usr`.
 */
export function parseDkmsStatus(text: string, name = 'falco'): string[] {
  const versions: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}/`) && !line.startsWith(`${name}, `)) continue;
    const version = line.replaceAll(',', '').replaceAll(':', '').replaceAll('/', ' ').split(' ')[1];
    if (version !== undefined && DKMS_VERSION.test(version) && !versions.includes(version)) versions.push(version);
  }
  return versions;
}

const DKMS_VERSION = /^[A-Za-z0-9][A-Za-z0-9.+_~-]*$/;

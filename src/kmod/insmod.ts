import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { kmodNote } from '../cli/messages.js';
import { readSmallFile } from '../host/distro.js';
import { explain } from '../sign/advice.js';
import { readEnforcement, refusesUnsigned } from '../sign/diagnose.js';
import { signForInsmod } from '../sign/module.js';
import { run, which } from '../system/exec.js';
import { type KmodSession, relay, say, sys, warn } from './session.js';

/**
 * SELinux relabel before every insmod (0.31, falco#1755): errors ignored and hidden, as legacy did; a host without
 * chcon has no SELinux to satisfy.
 */
export async function relabel(s: KmodSession, file: string): Promise<void> {
  const chcon = which('chcon', s.ctx.env);
  if (chcon === undefined) return;
  await run(chcon, ['-t', 'modules_object_t', file], {
    env: s.ctx.env,
    timeoutMs: 30_000,
    signal: s.signal,
    stdout: 'ignore',
    stderr: 'ignore',
  });
}

export interface InsmodResult {
  readonly loaded: boolean;
  /**
   * The failure says something about the file (bad format, unsigned, wrong kernel), so a cached copy should go.
   * Not when insmod is missing or the module is already in the kernel ("File exists": the Cleaning phase could not
   * unload it), where a good file would otherwise be thrown away.
   */
  readonly fileBlamed: boolean;
}

const ALREADY_LOADED = /File exists|already in kernel/;
const KEY_REJECTED = /Key was rejected by service|Required key not available/;

/**
 * Signs the module first when a key was given (issue #10), then chcon + `insmod <file>` (its own messages shown),
 * then the module must really be there. A refused signature is not the file's fault: a cached module is kept, so
 * that it loads once the key is enrolled.
 */
export async function insmod(s: KmodSession, file: string): Promise<InsmodResult> {
  s.signal.throwIfAborted();
  let target = file;
  let copy = false;
  if (s.signer !== undefined) {
    const prepared = await signForInsmod(s.signer, file, s.signal);
    if (!prepared.ok) {
      warn(s, prepared.problem);
      return { loaded: false, fileBlamed: prepared.fileBlamed };
    }
    target = prepared.file;
    copy = prepared.copy;
  }
  await relabel(s, target);
  const insmodPath = which('insmod', s.ctx.env);
  if (insmodPath === undefined) {
    warn(s, kmodNote.missingTool('insmod', `load ${target}`));
    return { loaded: false, fileBlamed: false };
  }
  const result = await run(insmodPath, [target], { env: s.ctx.env, timeoutMs: 120_000, signal: s.signal });
  relay(s, result, { stdout: true, stderr: true });
  if (result.exitCode !== 0 || result.failure !== undefined) {
    await explainRefusal(s, result.stderr);
    // A signed copy beside the cache (of a DKMS build) is of no further use once insmod refused it.
    if (copy) rmSync(target, { force: true });
    const blamed =
      result.failure === undefined && !ALREADY_LOADED.test(result.stderr) && !KEY_REJECTED.test(result.stderr);
    return { loaded: false, fileBlamed: blamed };
  }
  return { loaded: confirmLoaded(s, 'insmod'), fileBlamed: false };
}

/**
 * After a load (issue #3): `/sys/module/<kmod>` must exist, and its `version` is shown and compared with the
 * driver version asked for — modprobe in particular may load an older module (§B.6.5).
 */
export function confirmLoaded(s: KmodSession, tool: string): boolean {
  const k = s.ctx.plan.kmodName;
  const dir = sys(s, `/sys/module/${k}`);
  if (!existsSync(dir)) {
    warn(s, kmodNote.notInSysfs(tool, k));
    return false;
  }
  const version = readSmallFile(path.join(dir, 'version'))?.trim();
  if (version !== undefined && version !== '') {
    say(s, kmodNote.loadedVersion(k, version));
    const wanted = s.ctx.settings.driverVersion.value;
    if (version !== wanted) warn(s, kmodNote.versionMismatch(k, version, wanted));
  }
  return true;
}

/**
 * Signature enforcement (§D.8, driver-artifacts.md (i)): when insmod says the key was rejected, or the kernel
 * refuses unsigned modules anyway, say once which switch is on and what will work.
 */
async function explainRefusal(s: KmodSession, insmodStderr: string): Promise<void> {
  if (s.hinted.has('secure-boot')) return;
  const enforcement = readEnforcement(s.ctx.settings.sysroot);
  const rejected = KEY_REJECTED.test(insmodStderr);
  if (!rejected && !refusesUnsigned(enforcement) && !enforcement.modulesDisabled) return;
  s.hinted.add('secure-boot');
  for (const line of await explain(s.ctx, enforcement, s.signer?.material, rejected)) warn(s, line);
}

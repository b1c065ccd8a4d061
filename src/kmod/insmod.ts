import { existsSync } from 'node:fs';
import path from 'node:path';
import { kmodNote } from '../cli/messages.js';
import { readSmallFile } from '../host/distro.js';
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

/** chcon + `insmod <file>` (its own messages shown), then the module must really be there. */
export async function insmod(s: KmodSession, file: string): Promise<InsmodResult> {
  s.signal.throwIfAborted();
  await relabel(s, file);
  const insmodPath = which('insmod', s.ctx.env);
  if (insmodPath === undefined) {
    warn(s, kmodNote.missingTool('insmod', `load ${file}`));
    return { loaded: false, fileBlamed: false };
  }
  const result = await run(insmodPath, [file], { env: s.ctx.env, timeoutMs: 120_000 });
  relay(s, result, { stdout: true, stderr: true });
  if (result.exitCode !== 0 || result.failure !== undefined) {
    hintSecureBoot(s, result.stderr);
    return { loaded: false, fileBlamed: result.failure === undefined && !ALREADY_LOADED.test(result.stderr) };
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

const KEY_REJECTED = /Key was rejected by service|Required key not available/;
const LOCKDOWN_ON = /\[(integrity|confidentiality)\]/;

/** Unsigned modules on a Secure Boot / lockdown host (§D.8, driver-artifacts.md (i)): say what to do, once. */
function hintSecureBoot(s: KmodSession, insmodStderr: string): void {
  if (s.hinted.has('secure-boot')) return;
  const lockdown = readSmallFile(sys(s, '/sys/kernel/security/lockdown')) ?? '';
  if (!KEY_REJECTED.test(insmodStderr) && !LOCKDOWN_ON.test(lockdown)) return;
  s.hinted.add('secure-boot');
  warn(s, kmodNote.secureBoot);
}

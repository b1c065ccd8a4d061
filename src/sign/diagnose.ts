import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { signNote } from '../cli/messages.js';
import { sysPath } from '../system/sysroot.js';
import type { DkmsMok } from './dkmsMok.js';

/** EFI global variable GUID 8be4df61-…: 4 attribute bytes, then one data byte, 1 = Secure Boot on (UEFI spec 3.3). */
export const SECURE_BOOT_VAR = '/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e98c7f5c2c20';
const LOCKDOWN = '/sys/kernel/security/lockdown';
const SIG_ENFORCE = '/sys/module/module/parameters/sig_enforce';
const MODULES_DISABLED = '/proc/sys/kernel/modules_disabled';
export const ENFORCEMENT_FILES = [LOCKDOWN, SIG_ENFORCE, MODULES_DISABLED] as const;

export type Tristate = 'on' | 'off' | 'unknown';

/** What decides whether this kernel loads an unsigned module (driver-artifacts.md (i), legacy-loader.md §D.8). */
export interface Enforcement {
  readonly secureBoot: Tristate;
  /** The selected lockdown mode; undefined without securityfs or the lockdown LSM. */
  readonly lockdown: string | undefined;
  /** module.sig_enforce (Y also under CONFIG_MODULE_SIG_FORCE); undefined on a kernel without module signing. */
  readonly sigEnforce: boolean | undefined;
  readonly modulesDisabled: boolean;
}

function read(sysroot: string, file: string): string | undefined {
  try {
    return readFileSync(sysPath(sysroot, file), 'utf8');
  } catch {
    return undefined;
  }
}

export function readEnforcement(sysroot: string): Enforcement {
  const lockdownText = read(sysroot, LOCKDOWN);
  const enforce = read(sysroot, SIG_ENFORCE)?.trim();
  return {
    secureBoot: secureBoot(sysroot),
    lockdown: lockdownText === undefined ? undefined : (/\[(\w+)\]/.exec(lockdownText)?.[1] ?? undefined),
    sigEnforce: enforce === undefined ? undefined : enforce === 'Y' || enforce === '1',
    modulesDisabled: read(sysroot, MODULES_DISABLED)?.trim() === '1',
  };
}

/**
 * No /sys/firmware/efi: a BIOS boot, so no Secure Boot. EFI but an unreadable or empty efivars (efivarfs not
 * mounted, as in many containers): unknown. Otherwise the variable's data byte, a missing variable meaning off.
 */
function secureBoot(sysroot: string): Tristate {
  try {
    const data = readFileSync(sysPath(sysroot, SECURE_BOOT_VAR));
    if (data.length >= 5) return data[4] === 1 ? 'on' : 'off';
    return 'unknown';
  } catch {
    if (!existsSync(sysPath(sysroot, '/sys/firmware/efi'))) return 'off';
    try {
      return readdirSync(sysPath(sysroot, '/sys/firmware/efi/efivars')).length > 0 ? 'off' : 'unknown';
    } catch {
      return 'unknown';
    }
  }
}

/** Lockdown (either mode) and sig_enforce both make the kernel refuse a module without a trusted signature. */
export function refusesUnsigned(e: Enforcement): boolean {
  return e.sigEnforce === true || e.lockdown === 'integrity' || e.lockdown === 'confidentiality';
}

/** What else the advice depends on. */
export interface AdviceInputs {
  /** The certificate modules are signed with, when --sign-key/--sign-cert are given. */
  readonly signing: { readonly certFile: string; readonly name: string } | undefined;
  readonly dkms: DkmsMok;
  /** undefined when modern_ebpf can work, else why not. */
  readonly modernProblem: string | undefined;
  /** insmod said "Key was rejected by service" / "Required key not available". */
  readonly rejected: boolean;
}

/**
 * The state of each switch and the verdict. `rejected`: insmod said the key was rejected, which settles it even
 * where the switches cannot be read (a container without securityfs, a kernel built with CONFIG_MODULE_SIG_FORCE).
 */
export function stateLines(e: Enforcement, rejected = false): string[] {
  const refuses = refusesUnsigned(e) || rejected;
  const verdict = signNote.verdict(e.modulesDisabled, refuses, e.secureBoot);
  return [signNote.state(e), rejected && !refusesUnsigned(e) ? signNote.rejectedVerdict : verdict];
}

/** Only a kernel that refuses something needs a way out. */
export function needsAdvice(e: Enforcement, rejected = false): boolean {
  return e.modulesDisabled || refusesUnsigned(e) || rejected;
}

/**
 * What will work: signing with an enrolled key (this tool's --sign-key), DKMS's own MOK signing, or modern_ebpf,
 * each with its status on this host. With modules_disabled, only modern_ebpf can.
 */
export function adviceLines(e: Enforcement, inputs: AdviceInputs): string[] {
  if (e.modulesDisabled) return [signNote.modernAdvice(inputs.modernProblem)];
  if (!needsAdvice(e, inputs.rejected)) return [];
  return [
    signNote.whatWorks,
    inputs.rejected && inputs.signing !== undefined
      ? signNote.enrollOwn(inputs.signing.certFile, inputs.signing.name)
      : signNote.signAdvice(inputs.signing),
    signNote.dkmsAdvice(inputs.dkms),
    signNote.modernAdvice(inputs.modernProblem),
  ];
}

import { readFileSync } from 'node:fs';
import type { Context } from '../context.js';
import { isFile } from '../system/fsCheck.js';
import { sysPath } from '../system/sysroot.js';

export interface KernelNumbers {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

/** `6.1.0-13-amd64` → 6.1.0; undefined when the release does not start with a version number. */
export function kernelNumbers(release: string): KernelNumbers | undefined {
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(release);
  if (m === null) return undefined;
  return { major: Number(m[1]), minor: Number(m[2] ?? 0), patch: Number(m[3] ?? 0) };
}

export function atLeast(k: KernelNumbers, major: number, minor: number): boolean {
  return k.major > major || (k.major === major && k.minor >= minor);
}

export interface Support {
  readonly supported: boolean;
  /** What was found, one line each: the reasons for the verdict. */
  readonly findings: readonly string[];
  /** Only the requirements that are not met. */
  readonly problems: readonly string[];
}

/**
 * What the modern eBPF probe (built into Falco; driver-artifacts.md §(h)) needs from the kernel: the BPF ring buffer
 * (Linux 5.8 on every arch), kernel BTF at /sys/kernel/btf/vmlinux for CO-RE, and no lockdown in confidentiality mode
 * (falco#3416). Read from files only: no BPF syscalls are made, so backports below 5.8 are reported as unsupported.
 */
export function modernEbpfSupport(ctx: Context): Support {
  const release = ctx.settings.kernelRelease.value;
  const findings: string[] = [];
  const problems: string[] = [];
  const k = kernelNumbers(release);
  if (k !== undefined && atLeast(k, 5, 8)) {
    findings.push(`kernel ${release} is 5.8 or newer`);
  } else {
    problems.push(`kernel ${release} is older than 5.8 (modern_ebpf needs the BPF ring buffer of Linux 5.8)`);
  }
  const btf = sysPath(ctx.settings.sysroot, '/sys/kernel/btf/vmlinux');
  if (isFile(btf)) {
    findings.push('kernel BTF is at /sys/kernel/btf/vmlinux');
  } else {
    problems.push('no kernel BTF at /sys/kernel/btf/vmlinux (the kernel needs CONFIG_DEBUG_INFO_BTF=y)');
  }
  const lockdown = lockdownMode(ctx.settings.sysroot);
  if (lockdown === 'confidentiality') {
    problems.push(
      'kernel lockdown is in confidentiality mode, which blocks eBPF tracing (boot with lockdown=integrity, or turn lockdown off)',
    );
  } else {
    findings.push(`kernel lockdown is ${lockdown ?? 'not active'}`);
  }
  return { supported: problems.length === 0, findings: [...findings, ...problems], problems };
}

/** The selected mode of /sys/kernel/security/lockdown (`none [integrity] confidentiality`), if readable. */
export function lockdownMode(sysroot: string): string | undefined {
  try {
    const text = readFileSync(sysPath(sysroot, '/sys/kernel/security/lockdown'), 'utf8');
    return /\[(\w+)\]/.exec(text)?.[1];
  } catch {
    return undefined;
  }
}

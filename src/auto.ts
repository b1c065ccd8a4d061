import semverMajor from 'semver/functions/major.js';
import semverValid from 'semver/functions/valid.js';
import type { Context } from './context.js';
import { atLeast, kernelNumbers, modernEbpfSupport } from './modern/support.js';

export interface AutoChoice {
  readonly driver: 'modern_ebpf' | 'kmod' | 'ebpf' | undefined;
  /** One line: why this driver (or why none). */
  readonly reason: string;
}

/**
 * `auto` (the falcoctl-era default, falcoctl-driver.md §7): modern_ebpf when the kernel supports it, else the kernel
 * module where it can work (not on COS, not on Oracle UEK, not below 3.10 on x86_64 / 3.16 on aarch64), else the
 * legacy probe while the driver version still ships one (≤ 9.x, kernel ≥ 4.14 / 4.17).
 */
export function chooseDriver(ctx: Context): AutoChoice {
  const modern = modernEbpfSupport(ctx);
  if (modern.supported) return { driver: 'modern_ebpf', reason: modern.findings.join('; ') };
  const why = [`modern_ebpf: ${modern.problems.join('; ')}`];

  const release = ctx.settings.kernelRelease.value;
  const k = kernelNumbers(release);
  const aarch64 = ctx.settings.arch === 'aarch64';
  const kmodProblem =
    ctx.host.target.targetId === 'cos'
      ? 'COS does not allow loading kernel modules'
      : /uek/.test(release)
        ? 'the kernel module cannot be built on Oracle UEK kernels'
        : k === undefined || !atLeast(k, 3, aarch64 ? 16 : 10)
          ? `kernel ${release} is older than ${aarch64 ? '3.16' : '3.10'}`
          : undefined;
  if (kmodProblem === undefined) return { driver: 'kmod', reason: why.join('; ') };
  why.push(`kmod: ${kmodProblem}`);

  const version = ctx.settings.driverVersion.value;
  const probeShipped = semverValid(version) === null || semverMajor(version) < 10;
  const kernelOk = k !== undefined && atLeast(k, 4, aarch64 ? 17 : 14);
  if (probeShipped && kernelOk) return { driver: 'ebpf', reason: why.join('; ') };
  why.push(
    `ebpf: ${probeShipped ? `kernel ${release} is older than ${aarch64 ? '4.17' : '4.14'}` : `driver ${version} ships no legacy probe`}`,
  );
  return { driver: undefined, reason: why.join('; ') };
}

import type { DistroRule } from '../types.js';

/**
 * Debian's `uname -r` names the ABI package (6.1.0-13-amd64), not the kernel that runs; the real one is inside
 * `uname -v` (`… Debian 6.1.55-1 (…)`). The published driver is named after the latter plus the flavour/arch
 * suffix of the former (legacy 0.35.0 falco#2374, flavours 0.35.1 falco#2625).
 */
const ARCH_SUFFIX = /-?(rt-|cloud-|)(amd64|arm64)/;
const REAL_RELEASE = /([0-9]+\.[0-9]+\.[0-9]+-[0-9]+)/;

export const debian: DistroRule = {
  ids: ['debian'],
  resolve: (input) => {
    const suffix = ARCH_SUFFIX.exec(input.kernelRelease);
    const archExtra = suffix === null ? '' : `-${suffix[1] ?? ''}${suffix[2] ?? ''}`;
    const real = REAL_RELEASE.exec(input.kernelVersionRaw);
    return {
      targetId: 'debian',
      fixedKernelRelease: real === null ? input.kernelRelease : `${real[1] ?? ''}${archExtra}`,
      fixedKernelVersion: input.kernelVersion,
    };
  },
};

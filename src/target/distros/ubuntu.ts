import type { DistroRule } from '../types.js';

/** First alphabetic dash-segment of the release is the flavour: 5.4.0-1103-aws-5.4 → aws (legacy 0.35.1). */
const FLAVOUR = /-([a-zA-Z]+)(-.*)?$/;
/** HWE kernels: `#26~22.04.1-Ubuntu SMP …` → kernel version `26~22.04.1` (PR falco#2635). */
const TILDE_VERSION = /^#[0-9]+~[^-]*-Ubuntu .*$/;

export const ubuntu: DistroRule = {
  ids: ['ubuntu'],
  resolve: (input) => {
    const flavour = FLAVOUR.exec(input.kernelRelease);
    let kernelVersion = input.kernelVersion;
    if (TILDE_VERSION.test(input.kernelVersionRaw)) {
      kernelVersion = /^#([^-\\ ]*)/.exec(input.kernelVersionRaw)?.[1] ?? kernelVersion;
    }
    return {
      targetId: `ubuntu-${flavour?.[1] ?? 'generic'}`,
      fixedKernelRelease: input.kernelRelease,
      fixedKernelVersion: kernelVersion,
    };
  },
};

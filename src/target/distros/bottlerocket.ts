import type { DistroRule } from '../types.js';

/** Bottlerocket: `1_<VERSION_ID>-<VARIANT_ID up to its first dash>`, e.g. 1_1.11.0-aws (PR falco#2318). */
export const bottlerocket: DistroRule = {
  ids: ['bottlerocket'],
  resolve: (input) => {
    const variant = (input.osRelease.VARIANT_ID ?? '').split('-')[0] ?? '';
    return {
      targetId: 'bottlerocket',
      fixedKernelRelease: input.kernelRelease,
      fixedKernelVersion: `1_${input.osRelease.VERSION_ID ?? ''}-${variant}`,
    };
  },
};

import type { DistroRule } from '../types.js';

/** Talos: `1_<VERSION_ID>`, e.g. 1_v1.4.1 (PR falco#2537, kernel-crawler#148). */
export const talos: DistroRule = {
  ids: ['talos'],
  resolve: (input) => ({
    targetId: 'talos',
    fixedKernelRelease: input.kernelRelease,
    fixedKernelVersion: `1_${input.osRelease.VERSION_ID ?? ''}`,
  }),
};

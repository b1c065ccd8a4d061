import type { DistroRule } from '../types.js';

/** Every other distro (centos, rhel, fedora, ol, rocky, cos, arch, …): the lower-cased ID, kernel strings as is. */
export const generic: DistroRule = {
  ids: [],
  resolve: (input) => ({
    targetId: input.osId,
    fixedKernelRelease: input.kernelRelease,
    fixedKernelVersion: input.kernelVersion,
  }),
};

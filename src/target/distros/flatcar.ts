import type { DistroRule } from '../types.js';

/** Flatcar drivers are named after the OS release, not the kernel (PR falco#2043). */
export const flatcar: DistroRule = {
  ids: ['flatcar'],
  resolve: (input) => ({
    targetId: 'flatcar',
    // Legacy used VERSION_ID even when empty (a name like falco_flatcar__1.ko); keep the kernel release instead.
    fixedKernelRelease: nonEmpty(input.osRelease.VERSION_ID) ?? input.kernelRelease,
    fixedKernelVersion: input.kernelVersion,
  }),
};

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

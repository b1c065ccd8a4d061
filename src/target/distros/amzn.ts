import type { DistroRule } from '../types.js';

const BY_VERSION: Readonly<Record<string, string>> = {
  '2': 'amazonlinux2',
  '2022': 'amazonlinux2022',
  '2023': 'amazonlinux2023',
};

/** Amazon Linux: the target comes from VERSION_ID; anything unknown is the original `amazonlinux`. */
export const amzn: DistroRule = {
  ids: ['amzn'],
  resolve: (input) => ({
    targetId: BY_VERSION[input.osRelease.VERSION_ID ?? ''] ?? 'amazonlinux',
    fixedKernelRelease: input.kernelRelease,
    fixedKernelVersion: input.kernelVersion,
  }),
};

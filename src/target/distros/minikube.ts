import { UserError } from '../../errors.js';
import type { DistroRule } from '../types.js';

/**
 * minikube is recognised by ${HOST_ROOT}/etc/VERSION; its drivers are versioned `1_<x.y.z>` after the minikube
 * release (legacy 0.33). An unparsable file stopped the legacy script with this stdout line and exit 1.
 */
export const minikube: DistroRule = {
  ids: ['minikube'],
  resolve: (input) => {
    const version = /[0-9]+\.[0-9]+\.[0-9]+/.exec(input.minikubeVersionFile ?? '')?.[0];
    if (version === undefined) {
      throw new UserError('', { stdout: `* Unable to extract minikube version from ${input.hostRoot}/etc/VERSION\n` });
    }
    return { targetId: 'minikube', fixedKernelRelease: input.kernelRelease, fixedKernelVersion: `1_${version}` };
  },
};

import { amzn } from './distros/amzn.js';
import { bottlerocket } from './distros/bottlerocket.js';
import { debian } from './distros/debian.js';
import { flatcar } from './distros/flatcar.js';
import { generic } from './distros/generic.js';
import { minikube } from './distros/minikube.js';
import { talos } from './distros/talos.js';
import { ubuntu } from './distros/ubuntu.js';
import { type DistroRule, type Target, type TargetInput, UNDETERMINED } from './types.js';

const RULES: readonly DistroRule[] = [amzn, debian, ubuntu, flatcar, minikube, bottlerocket, talos];

/**
 * The generic kernel version: `sed 's/#\([[:digit:]]\+\).*\/\1/'` of the legacy script, i.e. the first `#<digits>`
 * and everything after it become the digits; text before the `#` is kept; no `#<digits>` leaves it unchanged.
 */
export function genericKernelVersion(kernelVersionRaw: string): string {
  return kernelVersionRaw.replace(/#([0-9]+).*/, '$1');
}

/** Pure: facts in, target id and fixed kernel strings out. `osId` undefined means no distro file was found. */
export function resolveTarget(input: Omit<TargetInput, 'osId'> & { osId: string | undefined }): Target {
  if (input.osId === undefined) {
    return {
      targetId: UNDETERMINED,
      fixedKernelRelease: input.kernelRelease,
      fixedKernelVersion: input.kernelVersion,
    };
  }
  const osId = input.osId;
  const rule = RULES.find((r) => r.ids.includes(osId)) ?? generic;
  return rule.resolve({ ...input, osId });
}

export type { Target, TargetInput } from './types.js';
export { UNDETERMINED } from './types.js';

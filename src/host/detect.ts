import type { Settings } from '../cli/settings.js';
import { genericKernelVersion, resolveTarget, type Target } from '../target/index.js';
import { type DistroFacts, readDistroFacts } from './distro.js';

export interface HostFacts {
  readonly distro: DistroFacts;
  readonly target: Target;
}

/** Reads the host's distro files (under HOST_ROOT) and derives the target; spawns nothing. */
export function detectHost(settings: Settings): HostFacts {
  const distro = readDistroFacts(settings.hostRoot);
  const target = resolveTarget({
    osId: distro.osId,
    osRelease: distro.osRelease,
    kernelRelease: settings.kernelRelease.value,
    kernelVersionRaw: settings.kernelVersion.value,
    kernelVersion: genericKernelVersion(settings.kernelVersion.value),
    minikubeVersionFile: distro.minikubeVersionFile,
    hostRoot: settings.hostRoot,
  });
  return { distro, target };
}

import { genericKernelVersion, resolveTarget, type Target } from '../../src/target/index.js';

export interface Row {
  id: string | undefined;
  os?: Record<string, string>;
  release: string;
  version: string;
  minikube?: string;
  expect: Target;
}

export function resolve(row: Row): Target {
  return resolveTarget({
    osId: row.id,
    osRelease: row.os ?? {},
    kernelRelease: row.release,
    kernelVersionRaw: row.version,
    kernelVersion: genericKernelVersion(row.version),
    minikubeVersionFile: row.minikube,
    hostRoot: '/host',
  });
}

export const t = (targetId: string, fixedKernelRelease: string, fixedKernelVersion: string): Target => ({
  targetId,
  fixedKernelRelease,
  fixedKernelVersion,
});

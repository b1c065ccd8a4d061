import type { OsRelease } from '../host/osRelease.js';

/** What a distro rule gets: facts only, already read from the host. */
export interface TargetInput {
  /** os-release ID (or the fallback file's implied id), lower-cased; never empty. */
  readonly osId: string;
  readonly osRelease: OsRelease;
  /** Kernel release as `uname -r` (or its override), before any fix-up. */
  readonly kernelRelease: string;
  /** Kernel version as `uname -v` (or its override), the full string. */
  readonly kernelVersionRaw: string;
  /** The generic kernel version: the digits after a leading `#` (legacy-loader.md §A.5). */
  readonly kernelVersion: string;
  /** Content of ${HOST_ROOT}/etc/VERSION (minikube), when the file exists. */
  readonly minikubeVersionFile: string | undefined;
  /** HOST_ROOT exactly as given (for messages that quote it). */
  readonly hostRoot: string;
}

export interface Target {
  readonly targetId: string;
  readonly fixedKernelRelease: string;
  readonly fixedKernelVersion: string;
}

/**
 * One distro family: which os-release IDs it claims and how it names the target and fixes the kernel strings.
 * Shaped after falcoctl's pkg/driver/distro: adding a distro is one file plus its table test.
 */
export interface DistroRule {
  readonly ids: readonly string[];
  resolve(input: TargetInput): Target;
}

/** The result when no distro could be identified (0.36: `undetermined`). */
export const UNDETERMINED = 'undetermined';

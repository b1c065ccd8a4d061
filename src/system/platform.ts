import os from 'node:os';

/**
 * What the running kernel and process say about themselves. Read through syscalls (uname(2) via os.*),
 * never by spawning `uname`, which minimal images lack. Tests pass their own Platform.
 */
export interface Platform {
  kernelRelease(): string;
  kernelVersion(): string;
  machine(): string;
  uid(): number;
}

export const realPlatform: Platform = {
  kernelRelease: () => os.release(),
  kernelVersion: () => os.version(),
  machine: () => os.machine(),
  uid: () => (typeof process.getuid === 'function' ? process.getuid() : -1),
};

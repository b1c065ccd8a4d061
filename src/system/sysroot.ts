import path from 'node:path';

/**
 * The one seam for kernel-facing paths (issue #2): everything the loader reads or writes under /proc, /sys,
 * /lib/modules, /usr/src, /var/lib/dkms, /boot and /tmp/kernel is resolved under FALCO_DRIVER_LOADER_SYSROOT
 * when it is set. Tests point it at a temp dir; production leaves it unset (= "/").
 *
 * HOST_ROOT is a different thing: the legacy contract for reading the *host's* distro files from a container.
 */
export function sysrootOf(env: NodeJS.ProcessEnv): string {
  const value = env.FALCO_DRIVER_LOADER_SYSROOT;
  return value === undefined || value === '' ? '/' : path.resolve(value);
}

export function sysPath(sysroot: string, absolute: string): string {
  return sysroot === '/' ? absolute : path.join(sysroot, absolute);
}

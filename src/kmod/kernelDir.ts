import type { Context } from '../context.js';
import { isDirectory } from '../system/fsCheck.js';
import { sysPath } from '../system/sysroot.js';

/**
 * The environment for a driver build (`dkms install` through our MAKE wrapper, or `make -C <src>/bpf`), with
 * KERNELDIR pointing at the build tree of the release being built for, unless the caller set KERNELDIR.
 *
 * Why (falco#3164, seen with Debian's real scap driver in the e2e, issue #14): the driver's Makefile and bpf/Makefile
 * build against `KERNELDIR ?= /lib/modules/$(uname -r)/build`, the *running* kernel, and the MAKE wrapper replaces
 * dkms's own `make -C <kernel_source_dir>`; so `--kernel-release`/DRIVER_KERNEL_RELEASE for another kernel built
 * against the wrong headers (or failed where the running kernel has none). For the running kernel nothing changes.
 */
export function kernelBuildEnv(ctx: Context): NodeJS.ProcessEnv {
  if ((ctx.env.KERNELDIR ?? '') !== '') return ctx.env;
  const release = ctx.settings.kernelRelease.value;
  const build = sysPath(ctx.settings.sysroot, `/lib/modules/${release}/build`);
  const source = sysPath(ctx.settings.sysroot, `/lib/modules/${release}/source`);
  const dir = !isDirectory(build) && isDirectory(source) ? source : build;
  return { ...ctx.env, KERNELDIR: dir };
}

import type { Context } from '../context.js';
import { modernEbpfSupport } from './support.js';

/**
 * modern_ebpf: the probe is compiled into Falco, so nothing is downloaded or built (driver-artifacts.md §(h)).
 * Check what it needs and say so: one line on success, one line per missing requirement otherwise.
 */
export function runModernEbpf(ctx: Context): number {
  const support = modernEbpfSupport(ctx);
  if (support.supported) {
    ctx.io.out(
      `* Success: modern_ebpf can run on this kernel (${support.findings.join('; ')}); nothing to download or build, Falco carries the probe\n`,
    );
    return 0;
  }
  for (const problem of support.problems) ctx.io.err(`modern_ebpf cannot run here: ${problem}\n`);
  return 1;
}

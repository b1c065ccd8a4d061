import type { Context } from '../context.js';
import { modernEbpfSupport } from '../modern/support.js';
import { adviceLines, type Enforcement, needsAdvice, stateLines } from './diagnose.js';
import { detectDkmsMok } from './dkmsMok.js';
import type { SigningMaterial } from './material.js';

/**
 * The diagnosis lines for this host, shared by --dry-run and a refused insmod so that both say the same thing:
 * the switches, the verdict, and the status of each way out (signing with an enrolled key, DKMS's MOK signing,
 * modern_ebpf). Only when the kernel refuses something does it ask `dkms --version` (read-only, like the falcoctl
 * version query); otherwise it reads files only.
 */
export async function explain(
  ctx: Context,
  enforcement: Enforcement,
  material: SigningMaterial | undefined,
  rejected: boolean,
): Promise<string[]> {
  if (!needsAdvice(enforcement, rejected)) return stateLines(enforcement);
  const dkms = await detectDkmsMok(ctx.settings.sysroot, ctx.env, material?.cert);
  const modern = modernEbpfSupport(ctx);
  return [
    ...stateLines(enforcement, rejected),
    ...adviceLines(enforcement, {
      signing: material === undefined ? undefined : { certFile: material.config.certFile, name: material.cert.name },
      dkms,
      modernProblem: modern.supported ? undefined : modern.problems.join('; '),
      rejected,
    }),
  ];
}

import { signNote } from '../cli/messages.js';
import type { Context } from '../context.js';
import { UserError } from '../errors.js';
import { explain } from './advice.js';
import { serialText } from './cert.js';
import { ENFORCEMENT_FILES, needsAdvice, readEnforcement, SECURE_BOOT_VAR } from './diagnose.js';
import { detectDkmsMok } from './dkmsMok.js';
import { loadSigningMaterial, type SigningMaterial } from './material.js';
import { toolText } from './setup.js';
import { chooseTool } from './tools.js';

/**
 * The `Module signing` block of --dry-run (issue #10): the signing configuration as a real run would load it
 * (the same checks, so a refused key shows up here), where the switches were read, then the same diagnosis a
 * refused insmod prints.
 */
export async function signingReport(ctx: Context, row: (label: string, value: string) => string): Promise<string[]> {
  const out: string[] = [];
  const config = ctx.settings.signing;
  let material: SigningMaterial | undefined;
  if (config === undefined) {
    out.push(row('signing', 'off  (no --sign-key/--sign-cert, DRIVER_SIGN_KEY/DRIVER_SIGN_CERT)'));
  } else {
    try {
      material = loadSigningMaterial(config, ctx.env);
      const tool = chooseTool(config.tool, {
        sysroot: ctx.settings.sysroot,
        kernelRelease: ctx.settings.kernelRelease.value,
        env: ctx.env,
      });
      out.push(row('signing key', `${config.keyFile}  (${config.sources.key})`));
      out.push(
        row(
          'certificate',
          `${config.certFile}  (${config.sources.cert}): '${material.cert.name}', serial ${serialText(material.cert.serial)}`,
        ),
      );
      out.push(row('hash', `${config.hash}  (${config.sources.hash})`));
      out.push(row('signed with', `${toolText(tool)}  (${config.sources.tool}: ${tool.why})`));
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      out.push(row('signing', `a real run would stop here: ${error.message}`));
    }
  }
  out.push(row('checked', `${SECURE_BOOT_VAR}, ${ENFORCEMENT_FILES.join(', ')}`));
  const enforcement = readEnforcement(ctx.settings.sysroot);
  // With a key of its own, whether DKMS signs too matters even where nothing is enforced (no double signing).
  if (material !== undefined && !needsAdvice(enforcement)) {
    const dkms = await detectDkmsMok(ctx.settings.sysroot, ctx.env, material.cert);
    out.push(row('dkms', signNote.dkmsStatus(dkms)));
  }
  for (const line of await explain(ctx, enforcement, material, false)) out.push(`  ${line}\n`);
  return out;
}

/** The step a real run adds before each insmod. */
export function signingStep(ctx: Context): string | undefined {
  const config = ctx.settings.signing;
  if (config === undefined) return undefined;
  return `before each insmod: sign the module with the key of ${config.certFile} (${config.hash}) unless it already carries a valid signature by that certificate; cached and downloaded modules are replaced by their signed version, a DKMS build is signed into a copy in ${ctx.plan.cacheDir} (nothing under /var/lib/dkms or /lib/modules is changed)`;
}

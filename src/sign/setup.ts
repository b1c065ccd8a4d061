import { signNote } from '../cli/messages.js';
import type { Context } from '../context.js';
import { loadSigningMaterial } from './material.js';
import type { Signer } from './module.js';
import { chooseTool } from './tools.js';

/**
 * The run's signer, or undefined when no key was given. Everything a user can get wrong (key mode, key and
 * certificate that do not match, a forced tool that is missing) fails here, before the Cleaning phase unloads
 * anything.
 */
export function createSigner(
  ctx: Context,
  say: (line: string) => void,
  warn: (line: string) => void,
): Signer | undefined {
  const config = ctx.settings.signing;
  if (config === undefined) return undefined;
  const material = loadSigningMaterial(config, ctx.env);
  const tool = chooseTool(config.tool, {
    sysroot: ctx.settings.sysroot,
    kernelRelease: ctx.settings.kernelRelease.value,
    env: ctx.env,
  });
  say(signNote.using(material.cert.name, config.certFile, config.hash, toolText(tool)));
  return {
    material,
    tool,
    cacheDir: ctx.plan.cacheDir,
    kernelRelease: ctx.settings.kernelRelease.value,
    arch: ctx.settings.arch,
    env: ctx.env,
    say,
    warn,
  };
}

export function toolText(tool: { tool: string; path: string | undefined }): string {
  return tool.path === undefined ? 'the built-in signer' : `${tool.tool} (${tool.path})`;
}

import { accessSync, constants, rmSync, statSync, writeFileSync } from 'node:fs';
import { UserError } from '../errors.js';
import { run, which } from '../system/exec.js';
import { sysPath } from '../system/sysroot.js';
import type { SigningMaterial, SignTool } from './material.js';

/** The program that appends the signature. `builtin` is this tool's own PKCS#7 writer (pkcs7.ts). */
export interface ToolChoice {
  readonly tool: Exclude<SignTool, 'auto'>;
  /** The program's path; undefined for builtin. */
  readonly path: string | undefined;
  /** Why this one, for --dry-run. */
  readonly why: string;
}

export interface ToolContext {
  readonly sysroot: string;
  readonly kernelRelease: string;
  readonly env: NodeJS.ProcessEnv;
}

/** The target kernel's own sign-file, from its headers (or build tree), through the sysroot seam. */
export function signFilePath(t: ToolContext): string {
  return sysPath(t.sysroot, `/lib/modules/${t.kernelRelease}/build/scripts/sign-file`);
}

/**
 * `auto`: the target kernel's scripts/sign-file, else Ubuntu's kmodsign, else the built-in writer. The kernel's
 * own tool comes first because it defines the format for that kernel (and handles what the built-in writer does
 * not, e.g. OpenSSL engines); the built-in one needs nothing on the host, which matters for prebuilt modules
 * (no headers installed) and in containers where the host's sign-file cannot run against the image's libcrypto.
 */
export function chooseTool(tool: SignTool, t: ToolContext): ToolChoice {
  const signFile = signFilePath(t);
  const hasSignFile = isExecutable(signFile);
  const kmodsign = which('kmodsign', t.env);
  switch (tool) {
    case 'sign-file':
      if (!hasSignFile) {
        throw new UserError(
          `--sign-tool sign-file: ${signFile} is missing or not executable (install the kernel headers for ${t.kernelRelease}, or use --sign-tool auto)`,
        );
      }
      return { tool, path: signFile, why: 'asked for' };
    case 'kmodsign':
      if (kmodsign === undefined) throw new UserError('--sign-tool kmodsign: kmodsign is not on PATH');
      return { tool, path: kmodsign, why: 'asked for' };
    case 'builtin':
      return { tool, path: undefined, why: 'asked for' };
    case 'auto':
      if (hasSignFile) return { tool: 'sign-file', path: signFile, why: "the target kernel's own signing program" };
      if (kmodsign !== undefined) return { tool: 'kmodsign', path: kmodsign, why: `no ${signFile}` };
      return { tool: 'builtin', path: undefined, why: `no ${signFile} and no kmodsign on PATH` };
  }
}

function isExecutable(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * `<tool> <hash> <key> <cert.der> <module>`: both programs share sign-file's argument order and sign in place.
 * The certificate goes as DER in a file beside the module (kmodsign reads DER only; a certificate is public). The
 * key is passed by path: it is never copied. Returns undefined on success, else one line.
 */
export async function runSigningTool(
  choice: ToolChoice,
  material: SigningMaterial,
  unsignedFile: string,
  env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
): Promise<string | undefined> {
  if (choice.path === undefined) return `${choice.tool} has no program to run`;
  const certFile = `${unsignedFile}.x509`;
  try {
    writeFileSync(certFile, material.cert.der, { flag: 'wx', mode: 0o644 });
    const result = await run(choice.path, [material.config.hash, material.config.keyFile, certFile, unsignedFile], {
      env,
      timeoutMs: 120_000,
      ...(signal === undefined ? {} : { signal }),
    });
    if (result.failure !== undefined) return `${choice.path} could not run: ${result.failure}`;
    if (result.exitCode !== 0) {
      const said = result.stderr.trim().split('\n').at(-1) ?? '';
      return `${choice.path} exited with ${result.exitCode}${said === '' ? '' : `: ${said}`}`;
    }
    return undefined;
  } finally {
    rmSync(certFile, { force: true });
  }
}

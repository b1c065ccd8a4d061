import path from 'node:path';
import type { ParsedArgs } from '../cli/args.js';
import { quoted } from '../cli/text.js';
import { UserError } from '../errors.js';
import { HASHES, type HashName, SIGN_TOOLS, type SignTool } from './choices.js';
import type { SigningConfig } from './material.js';

interface Found {
  readonly value: string;
  readonly source: string;
}

/** Option › variable; an empty value counts as unset either way (legacy `${VAR:-default}`). */
function find(
  option: string | undefined,
  optionName: string,
  env: NodeJS.ProcessEnv,
  variable: string,
): Found | undefined {
  if (option !== undefined && option !== '') return { value: option, source: `command line (${optionName})` };
  const value = env[variable];
  return value === undefined || value === '' ? undefined : { value, source: `environment (${variable})` };
}

/**
 * `--sign-key`/DRIVER_SIGN_KEY, `--sign-cert`/DRIVER_SIGN_CERT, `--sign-hash`/DRIVER_SIGN_HASH (sha256),
 * `--sign-tool`/DRIVER_SIGN_TOOL (auto). Key and certificate go together; a hash or tool without them is a mistake
 * worth one line rather than a silently unsigned module. Nothing is read here: files are checked when a run
 * needs them (never for --print-env or --help).
 */
export function resolveSigning(args: ParsedArgs, env: NodeJS.ProcessEnv): SigningConfig | undefined {
  const key = find(args.signKey, '--sign-key', env, 'DRIVER_SIGN_KEY');
  const cert = find(args.signCert, '--sign-cert', env, 'DRIVER_SIGN_CERT');
  const hash = find(args.signHash, '--sign-hash', env, 'DRIVER_SIGN_HASH');
  const tool = find(args.signTool, '--sign-tool', env, 'DRIVER_SIGN_TOOL');
  if (key === undefined && cert === undefined) {
    const stray = hash ?? tool;
    if (stray !== undefined) {
      throw new UserError(`${describe(stray)} is set, but no module signing key is: give --sign-key and --sign-cert`);
    }
    return undefined;
  }
  if (key === undefined) {
    throw new UserError(`${describe(cert as Found)} needs a private key: give --sign-key (or DRIVER_SIGN_KEY) too`);
  }
  if (cert === undefined) {
    throw new UserError(`${describe(key)} needs its X.509 certificate: give --sign-cert (or DRIVER_SIGN_CERT) too`);
  }
  const hashName = (hash?.value ?? 'sha256').toLowerCase();
  if (!(HASHES as readonly string[]).includes(hashName)) {
    throw new UserError(
      `Unsupported module signature hash ${quoted((hash as Found).value)} from ${(hash as Found).source}: use ${HASHES.join(', ')}`,
    );
  }
  const toolName = tool?.value ?? 'auto';
  if (!(SIGN_TOOLS as readonly string[]).includes(toolName)) {
    throw new UserError(
      `Unknown signing program ${quoted(toolName)} from ${(tool as Found).source}: use ${SIGN_TOOLS.join(', ')}`,
    );
  }
  return {
    keyFile: path.resolve(key.value),
    certFile: path.resolve(cert.value),
    hash: hashName as HashName,
    tool: toolName as SignTool,
    sources: {
      key: key.source,
      cert: cert.source,
      hash: hash?.source ?? 'default',
      tool: tool?.source ?? 'default',
    },
  };
}

function describe(found: Found): string {
  const m = /^(?:command line|environment) \((.*)\)$/.exec(found.source);
  return m?.[1] ?? found.source;
}

import { existsSync } from 'node:fs';
import { redactArgument, redactUrl } from '../cli/redact.js';
import type { Context } from '../context.js';
import { UserError } from '../errors.js';
import { parseCurlOptions } from '../fetch/curlOptions.js';
import { parseHeaderList } from '../fetch/headers.js';
import { run } from '../system/exec.js';
import { sysPath } from '../system/sysroot.js';
import { detectFalcoctl, type Falcoctl } from './detect.js';
import { type HandOff, type HandOffRequest, translate } from './translate.js';

export type FalcoctlPolicy = 'auto' | 'never' | 'always';
const POLICIES: readonly FalcoctlPolicy[] = ['auto', 'never', 'always'];

/** `--falcoctl <policy>`, else FALCO_DRIVER_LOADER_FALCOCTL, else auto. */
export function policyOf(ctx: Pick<Context, 'args' | 'env'>): FalcoctlPolicy {
  const fromArgs = ctx.args.falcoctl;
  const fromEnv = ctx.env.FALCO_DRIVER_LOADER_FALCOCTL;
  const value = fromArgs ?? (fromEnv === '' ? undefined : fromEnv) ?? 'auto';
  if (!(POLICIES as readonly string[]).includes(value)) {
    const where = fromArgs !== undefined ? '--falcoctl' : 'FALCO_DRIVER_LOADER_FALCOCTL';
    throw new UserError(`${where} must be auto, never or always, not ${JSON.stringify(value.slice(0, 32))}`);
  }
  return value as FalcoctlPolicy;
}

export function handOffRequest(ctx: Context): HandOffRequest {
  const s = ctx.settings;
  return {
    driver: s.driver.value,
    clean: ctx.args.clean,
    enableCompile: ctx.enableCompile,
    enableDownload: ctx.enableDownload,
    driverName: s.driverName.value,
    driverVersion: s.driverVersion.value,
    repos: s.repos.value,
    hostRoot: s.hostRoot,
    kernelRelease: s.kernelRelease.value,
    kernelVersion: s.kernelVersion.value,
    fixedKernelRelease: ctx.host.target.fixedKernelRelease,
    insecure: s.insecure,
    headers: parseHeaderList(s.httpHeaders),
    curl: parseCurlOptions(s.curlOptions).options,
    tmpdir: s.tmpdir,
    bpfUseLocalKernelSources: s.bpfUseLocalKernelSources,
    signing: s.signing !== undefined,
  };
}

export interface Decision {
  readonly policy: FalcoctlPolicy;
  readonly falcoctl: Falcoctl | undefined;
  readonly handOff: HandOff;
}

/** Decided once per run. `never` does not even look for falcoctl. */
export async function decide(ctx: Context): Promise<Decision> {
  const policy = policyOf(ctx);
  if (policy === 'never') {
    return { policy, falcoctl: undefined, handOff: { kind: 'standalone', reason: 'the falcoctl policy is never' } };
  }
  const falcoctl = await detectFalcoctl(ctx.env);
  const handOff = translate(handOffRequest(ctx), falcoctl);
  if (policy === 'always' && handOff.kind === 'standalone') {
    throw new UserError(`falcoctl cannot take this request: ${handOff.reason} (the falcoctl policy is always)`);
  }
  return { policy, falcoctl, handOff };
}

/** A one-line account for the user, printed only when falcoctl exists but is not used. */
export function standaloneNote(decision: Decision): string | undefined {
  if (decision.handOff.kind !== 'standalone' || decision.falcoctl === undefined) return undefined;
  return `* Not handing off to falcoctl ${decision.falcoctl.version}: ${decision.handOff.reason}; running standalone`;
}

/**
 * The falcoctl command as shown to the user: one place (cli/redact.ts) hides URL credentials and header values.
 * Header values stay on falcoctl's argv (it reads them from no variable or file), so `ps` shows them: see README.
 */
export function commandLine(path: string, argv: readonly string[], env: Readonly<Record<string, string>> = {}): string {
  const quote = (a: string) => (/^[\w@%+=:,./*-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`);
  const assignments = Object.entries(env).map(([k, v]) => `${k}=${quote(v.split(';').map(redactUrl).join(';'))}`);
  return [...assignments, quote(path), ...argv.map((a) => quote(redactArgument(a)))].join(' ');
}

/**
 * Runs falcoctl with an argument vector (no shell), its output streaming through. Its exit code is ours, except
 * where falcoctl is known to lie: `install` exits 0 when insmod fails (falcoctl-driver.md §11.1), so a kmod install
 * is only a success when /sys/module/<name> exists afterwards.
 */
export async function runFalcoctl(
  ctx: Context,
  falcoctl: Falcoctl,
  argv: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<number> {
  ctx.io.out(`* Handing off to falcoctl: ${commandLine(falcoctl.path, argv, env)}\n`);
  const result = await run(falcoctl.path, argv, { env: { ...ctx.env, ...env }, stdout: 'inherit', stderr: 'inherit' });
  if (result.failure !== undefined) {
    ctx.io.err(`falcoctl could not be run: ${result.failure}\n`);
    return 1;
  }
  if (result.exitCode !== 0) return result.exitCode;
  const kmodInstall = argv[1] === 'install' && argv.includes('--type=kmod');
  const module = sysPath(ctx.settings.sysroot, `/sys/module/${ctx.plan.kmodName}`);
  if (kmodInstall && !existsSync(module)) {
    ctx.io.err(
      `falcoctl reported success, but the ${ctx.plan.kmodName} module is not loaded (${module} is missing): see falcoctl's warnings above\n`,
    );
    return 1;
  }
  return 0;
}

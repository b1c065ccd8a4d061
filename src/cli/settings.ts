import { readdirSync } from 'node:fs';
import os from 'node:os';
import { BUILD_DEFAULTS } from '../defaults.js';
import { UserError } from '../errors.js';
import { parseHeaderList } from '../fetch/headers.js';
import { resolveSigning } from '../sign/config.js';
import type { SigningConfig } from '../sign/material.js';
import { run, which } from '../system/exec.js';
import type { Platform } from '../system/platform.js';
import { sysPath, sysrootOf } from '../system/sysroot.js';
import type { DriverKind, ParsedArgs } from './args.js';
import { quoted } from './text.js';

/** A value and where it came from, so --dry-run can say why it is what it is. */
export interface Sourced<T> {
  readonly value: T;
  readonly source: string;
}

export interface Settings {
  readonly driver: Sourced<DriverKind>;
  readonly enableCompile: boolean;
  readonly enableDownload: boolean;
  readonly driverName: Sourced<string>;
  readonly driverVersion: Sourced<string>;
  readonly falcoVersion: Sourced<string>;
  /** The repositories in order, and the text --print-env shows for them (legacy: the raw DRIVERS_REPO). */
  readonly repos: Sourced<readonly string[]>;
  readonly reposText: string;
  readonly insecure: boolean;
  /** Refuse a download no SHA256SUMS vouches for (issue 19: --require-checksum, FALCO_DRIVER_LOADER_REQUIRE_CHECKSUM). */
  readonly requireChecksum: Sourced<boolean>;
  readonly curlOptions: string;
  readonly httpHeaders: string | undefined;
  /** HOST_ROOT as given ('' when unset), used verbatim as a prefix like the legacy script did. */
  readonly hostRoot: string;
  readonly home: string;
  readonly tmpdir: string;
  readonly bpfUseLocalKernelSources: boolean;
  readonly kernelRelease: Sourced<string>;
  readonly kernelVersion: Sourced<string>;
  readonly arch: string;
  readonly sysroot: string;
  /** Module signing before each insmod (issue #10); undefined when no key is given. */
  readonly signing: SigningConfig | undefined;
}

/** Legacy `${VAR:-default}`: an empty variable counts as unset. */
function nonEmpty(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

function pick(env: NodeJS.ProcessEnv, names: readonly string[]): Sourced<string> | undefined {
  for (const name of names) {
    const value = nonEmpty(env, name);
    if (value !== undefined) return { value, source: `environment (${name})` };
  }
  return undefined;
}

/** Exported for the mirror mode (issue 19), which validates names and versions from plan files the same way. */
export const DRIVER_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
export const DRIVER_VERSION = /^[A-Za-z0-9][A-Za-z0-9.+_~-]{0,127}$/;

export async function resolveSettings(args: ParsedArgs, env: NodeJS.ProcessEnv, platform: Platform): Promise<Settings> {
  const driver: Sourced<DriverKind> =
    args.driver !== undefined
      ? { value: args.driver, source: 'command line' }
      : env.FALCO_BPF_PROBE !== undefined
        ? { value: 'ebpf', source: 'environment (FALCO_BPF_PROBE is set)' }
        : { value: 'kmod', source: 'default' };
  const namedOne = args.compile || args.download;

  const driverName = pick(env, ['DRIVER_NAME', 'FALCOCTL_DRIVER_NAME']) ?? {
    value: BUILD_DEFAULTS.driverName,
    source: 'built-in default',
  };
  if (!DRIVER_NAME.test(driverName.value)) {
    throw new UserError(
      `Invalid driver name ${quoted(driverName.value)} from ${driverName.source}: use 1-64 letters, digits, '-' or '_' (e.g. falco)`,
    );
  }

  const sysroot = sysrootOf(env);
  const { falcoVersion, driverVersion } = await resolveVersions(env, driverName.value, sysroot);
  if (!DRIVER_VERSION.test(driverVersion.value) || driverVersion.value.includes('..')) {
    throw new UserError(
      `Invalid driver version ${quoted(driverVersion.value)} from ${driverVersion.source}: expected a version such as 7.0.0+driver`,
    );
  }

  const repos = resolveRepos(env);
  const kernelRelease = kernelString(args.kernelRelease, env, 'DRIVER_KERNEL_RELEASE', '--kernel-release', () =>
    platform.kernelRelease(),
  );
  const kernelVersion = kernelString(args.kernelVersion, env, 'DRIVER_KERNEL_VERSION', '--kernel-version', () =>
    platform.kernelVersion(),
  );
  checkKernelRelease(kernelRelease);
  const httpHeaders = args.httpHeaders ?? nonEmpty(env, 'FALCOCTL_DRIVER_HTTP_HEADERS');
  parseHeaderList(httpHeaders); // bad headers are bad input: refused now, before anything is unloaded

  return {
    driver,
    enableCompile: !namedOne || args.compile,
    enableDownload: !namedOne || args.download,
    driverName,
    driverVersion,
    falcoVersion,
    repos: repos.list,
    reposText: repos.text,
    insecure: args.httpInsecure || nonEmpty(env, 'DRIVER_INSECURE_DOWNLOAD') !== undefined,
    requireChecksum: args.requireChecksum
      ? { value: true, source: 'command line (--require-checksum)' }
      : nonEmpty(env, 'FALCO_DRIVER_LOADER_REQUIRE_CHECKSUM') !== undefined
        ? { value: true, source: 'environment (FALCO_DRIVER_LOADER_REQUIRE_CHECKSUM)' }
        : { value: false, source: 'default' },
    curlOptions: env.DRIVER_CURL_OPTIONS ?? '',
    httpHeaders,
    hostRoot: env.HOST_ROOT ?? '',
    home: nonEmpty(env, 'HOME') ?? homeFromPasswd(),
    tmpdir: nonEmpty(env, 'TMPDIR') ?? '/tmp',
    bpfUseLocalKernelSources: nonEmpty(env, 'BPF_USE_LOCAL_KERNEL_SOURCES') !== undefined,
    kernelRelease,
    kernelVersion,
    arch: platform.machine(),
    sysroot,
    signing: resolveSigning(args, env),
  };
}

/**
 * HOME unset: the passwd entry, as falcoctl does; with none either (a chroot, a distroless image) the legacy
 * script's `$HOME/.falco` became `/.falco`, so '/' it is — never a crash (os.homedir() throws ENOENT there).
 */
function homeFromPasswd(): string {
  try {
    return os.homedir();
  } catch {
    return '/';
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are refused
const BAD_RELEASE = /[/\s\u0000-\u001f\u007f]/;

/**
 * The raw release, not only the distro-fixed one (issue #13): on Debian the fixed release is rebuilt from the
 * version string, while the raw one goes to `dkms -k`, `/lib/modules/<release>/…` and falcoctl's argv.
 */
function checkKernelRelease(release: Sourced<string>): void {
  const { value, source } = release;
  if (value === '' || value.length > 256 || value.startsWith('-') || value.includes('..') || BAD_RELEASE.test(value)) {
    throw new UserError(
      `Invalid kernel release ${quoted(value)}: a kernel release, as uname -r prints it, has no spaces, '/', '..', control characters or leading '-' (from ${source})`,
    );
  }
}

function kernelString(
  option: string | undefined,
  env: NodeJS.ProcessEnv,
  variable: string,
  optionName: string,
  fromKernel: () => string,
): Sourced<string> {
  if (option !== undefined && option !== '') return { value: option, source: `command line (${optionName})` };
  return pick(env, [variable]) ?? { value: fromKernel(), source: 'running kernel' };
}

/**
 * DRIVERS_REPO is split on commas and spaces (0.33+); FALCOCTL_DRIVER_REPOS, the falcoctl-era name, also on `;`.
 * Only the list shape is checked here; each URL is validated where it becomes a download (artifact/plan.ts).
 */
function resolveRepos(env: NodeJS.ProcessEnv): { list: Sourced<readonly string[]>; text: string } {
  const legacy = nonEmpty(env, 'DRIVERS_REPO');
  const falcoctl = nonEmpty(env, 'FALCOCTL_DRIVER_REPOS');
  let list: Sourced<readonly string[]>;
  let text: string;
  if (legacy !== undefined) {
    list = { value: legacy.split(/[,\s]+/).filter((r) => r !== ''), source: 'environment (DRIVERS_REPO)' };
    text = legacy;
  } else if (falcoctl !== undefined) {
    const value = falcoctl.split(/[,;\s]+/).filter((r) => r !== '');
    list = { value, source: 'environment (FALCOCTL_DRIVER_REPOS)' };
    text = value.join(',');
  } else {
    list = { value: [BUILD_DEFAULTS.driversRepo], source: 'built-in default' };
    text = BUILD_DEFAULTS.driversRepo;
  }
  if (list.value.length === 0) {
    throw new UserError(
      `${list.source.replace(/^environment \((.*)\)$/, '$1')} lists no repository: give at least one URL, or unset it to use ${BUILD_DEFAULTS.driversRepo}`,
    );
  }
  return { list, text };
}

/**
 * FALCO_VERSION and DRIVER_VERSION: the environment wins; else what the installed `falco --version` reports
 * (`Falco version: X`, `Default driver: Y`); else, for the driver, the newest /usr/src/<name>-<version>; else the
 * build-time defaults. falco is only run when the environment leaves one of them open.
 */
async function resolveVersions(
  env: NodeJS.ProcessEnv,
  driverName: string,
  sysroot: string,
): Promise<{ falcoVersion: Sourced<string>; driverVersion: Sourced<string> }> {
  let falcoVersion = pick(env, ['FALCO_VERSION']);
  let driverVersion = pick(env, ['DRIVER_VERSION', 'FALCOCTL_DRIVER_VERSION']);
  if (falcoVersion === undefined || driverVersion === undefined) {
    const reported = await askFalco(env);
    if (reported !== undefined) {
      if (falcoVersion === undefined && reported.falco !== undefined) {
        falcoVersion = { value: reported.falco, source: `${reported.path} --version` };
      }
      if (driverVersion === undefined && reported.driver !== undefined) {
        driverVersion = { value: reported.driver, source: `${reported.path} --version` };
      }
    }
  }
  driverVersion ??= await newestDriverSource(sysroot, driverName);
  return {
    falcoVersion: falcoVersion ?? { value: BUILD_DEFAULTS.falcoVersion, source: 'built-in default' },
    driverVersion: driverVersion ?? { value: BUILD_DEFAULTS.driverVersion, source: 'built-in default' },
  };
}

async function askFalco(
  env: NodeJS.ProcessEnv,
): Promise<{ path: string; falco: string | undefined; driver: string | undefined } | undefined> {
  const falco = which('falco', env);
  if (falco === undefined) return undefined;
  const result = await run(falco, ['--version'], { env, timeoutMs: 10_000 });
  if (result.failure !== undefined || result.exitCode !== 0) return undefined;
  return { path: falco, ...parseFalcoVersion(result.stdout) };
}

export function parseFalcoVersion(text: string): { falco: string | undefined; driver: string | undefined } {
  const falco = /^Falco version:\s*(\S+)/m.exec(text)?.[1];
  const driver = /^\s*Default driver:\s*(\S+)/m.exec(text)?.[1];
  return { falco, driver };
}

async function newestDriverSource(sysroot: string, driverName: string): Promise<Sourced<string> | undefined> {
  const dir = sysPath(sysroot, '/usr/src');
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return undefined;
  }
  const prefix = `${driverName}-`;
  const candidates = entries.filter((e) => e.startsWith(prefix));
  if (candidates.length === 0) return undefined;
  // Loaded only when there is something to compare: semver builds ~40 regular expressions as it loads (start-up,
  // issue #17).
  const [{ default: semverValid }, { default: semverRcompare }] = await Promise.all([
    import('semver/functions/valid.js'),
    import('semver/functions/rcompare.js'),
  ]);
  const versions = candidates
    .map((e) => e.slice(prefix.length))
    .filter((v) => semverValid(v) !== null)
    .sort(semverRcompare);
  const newest = versions[0];
  return newest === undefined ? undefined : { value: newest, source: `/usr/src/${driverName}-${newest}` };
}

import semverGte from 'semver/functions/gte.js';
import type { DriverKind } from '../cli/args.js';
import type { CurlOverrides } from '../fetch/curlOptions.js';
import { DRIVER_COMMAND_SINCE, type Falcoctl } from './detect.js';

/** Everything the hand-off decision needs, already resolved: the same plan the standalone flows use. */
export interface HandOffRequest {
  readonly driver: DriverKind;
  readonly clean: boolean;
  readonly enableCompile: boolean;
  readonly enableDownload: boolean;
  readonly driverName: string;
  readonly driverVersion: string;
  readonly repos: readonly string[];
  /** HOST_ROOT as given ('' when unset). */
  readonly hostRoot: string;
  readonly kernelRelease: string;
  readonly kernelVersion: string;
  /** The release as it appears in file names (after the distro fix-up). */
  readonly fixedKernelRelease: string;
  readonly insecure: boolean;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly curl: CurlOverrides;
  readonly tmpdir: string;
  readonly bpfUseLocalKernelSources: boolean;
  /** --sign-key given: falcoctl would insmod unsigned modules (issue #10). */
  readonly signing?: boolean;
}

export type HandOff =
  | {
      readonly kind: 'falcoctl';
      readonly argv: readonly string[];
      /** Set for falcoctl on top of ours: secrets that must not be on its argv, which every local user can read. */
      readonly env?: Readonly<Record<string, string>>;
    }
  | { readonly kind: 'standalone'; readonly reason: string };

/** The legacy `ebpf` type was dropped from falcoctl in 0.13.0 (falcoctl-driver.md §0). */
const EBPF_DROPPED_IN = '0.13.0';

/**
 * Can falcoctl do exactly what was asked? If so, the `falcoctl driver install|cleanup` argv with every setting
 * passed explicitly as a flag (never `driver config`, which rewrites falco.yaml); if not, the one reason why.
 */
export function translate(request: HandOffRequest, falcoctl: Falcoctl | undefined): HandOff {
  const standalone = (reason: string): HandOff => ({ kind: 'standalone', reason });
  if (falcoctl === undefined) return standalone('falcoctl is not on PATH');
  const v = falcoctl.version;
  if (v === '0.0.0') return standalone(`'${falcoctl.path} version' did not report a version`);
  if (!semverGte(v, DRIVER_COMMAND_SINCE)) {
    return standalone(`falcoctl ${v} has no 'driver' command (it arrived in ${DRIVER_COMMAND_SINCE})`);
  }
  if (request.driver === 'ebpf' && semverGte(v, EBPF_DROPPED_IN)) {
    return standalone(`falcoctl ${v} no longer handles the legacy eBPF probe (dropped in ${EBPF_DROPPED_IN})`);
  }
  if (request.clean && request.driver === 'ebpf')
    return standalone('--clean is refused for bpf, as the legacy script did');
  if (request.driver === 'ebpf' && request.bpfUseLocalKernelSources) {
    return standalone('falcoctl has no equivalent of BPF_USE_LOCAL_KERNEL_SOURCES');
  }
  if (!request.clean && request.driver === 'auto' && falcoctl.singleType === true) {
    return standalone(`falcoctl ${v} takes a single --type (its 'auto' picks by distro, not modern_ebpf then kmod)`);
  }
  const lost = lostInTranslation(request);
  if (lost !== undefined) return standalone(lost);

  const install = !request.clean;
  const wants: string[] = ['--type', '--name', '--version', '--repo', '--host-root'];
  if (install) wants.push('--kernelrelease', '--kernelversion', '--compile', '--download', '--http-timeout');
  if (install && (request.insecure || request.curl.insecure === true)) wants.push('--http-insecure');
  const headers = [...request.headers, ...(request.curl.headers ?? [])];
  if (install && headers.length > 0) wants.push('--http-headers');
  const missing = wants.filter((flag) => !falcoctl.installFlags.has(flag));
  if (missing.length > 0) return standalone(`falcoctl ${v} does not accept ${missing.join(', ')}`);

  // Repository credentials go through FALCOCTL_DRIVER_REPOS (read when no --repo is given), not argv (issue #13).
  // Its value is split on whitespace and ';', so a URL holding one of those cannot travel that way.
  const privateRepos = request.repos.some(hasCredentials);
  if (privateRepos && request.repos.some((repo) => /[;\s]/.test(repo))) {
    return standalone(
      "a repository URL with credentials contains ';' or a space, which FALCOCTL_DRIVER_REPOS cannot carry",
    );
  }
  const type = request.clean
    ? 'kmod'
    : { kmod: 'kmod', ebpf: 'ebpf', modern_ebpf: 'modern_ebpf', auto: 'modern_ebpf,kmod' }[request.driver];
  const argv = [
    'driver',
    install ? 'install' : 'cleanup',
    `--type=${type}`,
    `--name=${request.driverName}`,
    `--version=${request.driverVersion}`,
    ...(privateRepos ? [] : request.repos.map((repo) => `--repo=${repo}`)),
    `--host-root=${request.hostRoot === '' ? '/' : request.hostRoot}`,
  ];
  // Cleanup unloads by name and removes every dkms version, whatever the kernel; falcoctl 0.7.x's cleanup does not
  // even take the kernel flags (they were `install` flags until 0.8.0), so they go to install only.
  if (install) {
    argv.push(`--kernelrelease=${request.kernelRelease}`, `--kernelversion=${request.kernelVersion}`);
    argv.push(`--compile=${request.enableCompile}`, `--download=${request.enableDownload}`);
    if (wants.includes('--http-insecure')) argv.push('--http-insecure=true');
    if (headers.length > 0) argv.push(`--http-headers=${headers.map(([k, val]) => `${k}: ${val}`).join(',')}`);
    argv.push(`--http-timeout=${Math.ceil((request.curl.maxTimeMs ?? 60_000) / 1000)}s`);
  }
  return privateRepos
    ? { kind: 'falcoctl', argv, env: { FALCOCTL_DRIVER_REPOS: request.repos.join(';') } }
    : { kind: 'falcoctl', argv };
}

function hasCredentials(repo: string): boolean {
  if (!URL.canParse(repo)) return repo.includes('@');
  const url = new URL(repo);
  return url.username !== '' || url.password !== '';
}

/** What falcoctl's flags cannot carry (falcoctl-driver.md §4, §10, §11). */
function lostInTranslation(r: HandOffRequest): string | undefined {
  if (r.repos.some((repo) => repo.startsWith('file:'))) return 'falcoctl cannot download from file:// repositories';
  const curl: Array<[keyof CurlOverrides, string]> = [
    ['caFile', '--cacert'],
    ['proxy', '-x/--proxy'],
    ['proxyUser', '-U/--proxy-user'],
    ['user', '-u/--user'],
    ['retries', '--retry'],
    ['retryMaxTimeMs', '--retry-max-time'],
    ['connectTimeoutMs', '--connect-timeout'],
  ];
  for (const [key, option] of curl) {
    if (r.curl[key] !== undefined) return `DRIVER_CURL_OPTIONS ${option} has no falcoctl equivalent`;
  }
  const headers = [...r.headers, ...(r.curl.headers ?? [])];
  if (headers.some(([, value]) => /[,:]/.test(value))) {
    return "falcoctl cannot pass an HTTP header value containing ',' or ':'";
  }
  const installsKmod = !r.clean && (r.driver === 'kmod' || r.driver === 'auto');
  if (installsKmod && r.signing === true) return 'falcoctl cannot sign modules before loading them (--sign-key)';
  // falcoctl's kernel-release parser reads a release with '+' (COS, Raspberry Pi: 5.15.133+) as empty: 0.7.x then
  // names the file without a release, 0.8.0 on finds no driver at all (proven against each release, test:falcoctl).
  const plus = [r.kernelRelease, r.fixedKernelRelease].find((k) => k.includes('+'));
  if (plus !== undefined) return `falcoctl cannot parse kernel release ${plus} (it reads a release with '+' as empty)`;
  const compiles = !r.clean && r.enableCompile && r.driver !== 'modern_ebpf';
  if (compiles && r.tmpdir !== '/tmp')
    return `falcoctl writes its build wrapper to /tmp and ignores TMPDIR=${r.tmpdir}`;
  return undefined;
}

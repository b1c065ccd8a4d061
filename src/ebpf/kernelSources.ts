import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import semverCoerce from 'semver/functions/coerce.js';
import semverGt from 'semver/functions/gt.js';
import { ebpfMsg } from '../cli/messages.js';
import { redactUrl } from '../cli/redact.js';
import type { Context } from '../context.js';
import { UserError } from '../errors.js';
import { download } from '../fetch/download.js';
import { downloadSettingsFrom } from '../fetch/settings.js';
import { kernelNumbers } from '../modern/support.js';
import { run } from '../system/exec.js';
import { sysPath } from '../system/sysroot.js';
import { cosCheck, type TarballCheck, vanillaCheck } from './sourceCheck.js';

/** Where kernel sources come from; overridable for air-gapped mirrors and for tests. */
const KERNEL_MIRROR = 'https://mirrors.edge.kernel.org/pub/linux/kernel';
const COS_TOOLS = 'https://storage.googleapis.com/cos-tools';

/** Extra environment for the probe's `make` (KERNELDIR, KBUILD_EXTRA_CPPFLAGS). */
export type PreparedSources = Readonly<Record<string, string>>;

/** Whether this host builds the probe against downloaded sources rather than /lib/modules/<release>/build. */
export function needsKernelSources(ctx: Context): boolean {
  const target = ctx.host.target.targetId;
  return target === 'cos' || target === 'minikube' || ctx.settings.bpfUseLocalKernelSources;
}

/**
 * Kernel-source preparation of legacy-loader.md §B.7 step 4, for the hosts whose headers are not usable as they
 * are: COS (Google's kernel-headers.tgz), minikube and BPF_USE_LOCAL_KERNEL_SOURCES (vanilla sources configured
 * with the running kernel's config). Returns undefined when the probe builds against /lib/modules/<release>/build.
 * Work happens under TMPDIR (legacy: hard-coded /tmp/kernel); the tarball download has the driver download's client
 * and bounds but not its 60 s cap, which made big tarballs fail (§B.12.14).
 */
export async function prepareKernelSources(
  ctx: Context,
  workDir: string,
  signal?: AbortSignal,
): Promise<PreparedSources> {
  const { settings: s, host, io } = ctx;
  const isCos = host.target.targetId === 'cos';
  const isMinikube = host.target.targetId === 'minikube';

  const release = s.kernelRelease.value;
  let url: string;
  let strip: boolean;
  let localVersion: string;
  let config: string | undefined;
  let check: TarballCheck;
  const buildId = host.distro.osRelease.BUILD_ID ?? '';
  if (isCos) {
    if (!/^[0-9][0-9.]*$/.test(buildId)) {
      throw new UserError(
        `COS detected but its BUILD_ID ${JSON.stringify(buildId)} is not a build number: cannot fetch its kernel headers`,
      );
    }
    io.out(`${ebpfMsg.cos(buildId)}\n`);
    url = `${(ctx.env.FALCO_DRIVER_LOADER_COS_TOOLS_URL ?? COS_TOOLS).replace(/\/+$/, '')}/${buildId}/kernel-headers.tgz`;
    strip = false;
    localVersion = '+';
    check = await cosCheck(ctx, url, workDir, signal);
  } else {
    const k = kernelNumbers(release);
    if (k === undefined)
      throw new UserError(`Cannot tell the kernel version from the release ${JSON.stringify(release)}`);
    const version = k.patch === 0 ? `${k.major}.${k.minor}` : `${k.major}.${k.minor}.${k.patch}`;
    if (isMinikube) io.out(`${ebpfMsg.minikube((host.distro.minikubeVersionFile ?? '').trim())}\n`);
    else io.out(`${ebpfMsg.localSources(`${k.major}.${k.minor}.${k.patch}`)}\n`);
    const custom = ctx.env.FALCO_DRIVER_LOADER_KERNEL_MIRROR;
    const mirror = (custom || KERNEL_MIRROR).replace(/\/+$/, '');
    const dir = `${mirror}/v${k.major}.x`;
    url = `${dir}/linux-${version}.tar.gz`;
    strip = true;
    localVersion = isMinikube ? '' : `-${release.split('-')[1] ?? ''}`;
    config = findKernelConfig(ctx);
    io.out(`* Found kernel config at ${config}\n`);
    check = await vanillaCheck(ctx, dir, `linux-${version}.tar.gz`, Boolean(custom), workDir, signal);
  }

  const tarball = path.join(workDir, 'sources.tar.gz');
  io.out(`* Downloading ${redactUrl(url)}\n`);
  const base = downloadSettingsFrom(s, ctx.env, (line) => io.err(`${line}\n`));
  const result = await download(
    { url, destination: tarball, validate: check, log: (line) => io.err(`${line}\n`), ...(signal ? { signal } : {}) },
    { ...base, maxTimeMs: Math.max(base.maxTimeMs, 30 * 60_000), maxBytes: Math.max(base.maxBytes, 4 * 1024 ** 3) },
    { env: ctx.env },
  );
  if (!result.ok) {
    io.err(`${result.reason}\n`);
    throw new SourcesUnavailable();
  }
  io.out('* Extracting kernel sources\n');
  const tree = path.join(workDir, 'tree');
  mkdirSync(tree);
  const stripArgs = strip ? ['--strip-components=1'] : [];
  await mustRun(ctx, signal, 'tar', ['-xzf', tarball, '-C', tree, ...stripArgs], 'extract the kernel sources');
  let kernelDir: string;
  const env: Record<string, string> = {};
  if (isCos) {
    const usrSrc = path.join(tree, 'usr', 'src');
    const first = safeReaddir(usrSrc).sort()[0];
    if (first === undefined) throw new UserError('The COS kernel-headers.tgz holds no usr/src/<kernel> directory');
    kernelDir = path.join(usrSrc, first);
    dropRandomizedStructFields(path.join(kernelDir, 'include', 'linux', 'compiler-clang.h'));
    const build = semverCoerce(buildId);
    if (build !== null && semverGt(build, '11553.0.0')) env.KBUILD_EXTRA_CPPFLAGS = '-DCOS_73_WORKAROUND';
  } else {
    kernelDir = tree;
    writeConfig(config as string, path.join(kernelDir, '.config'), localVersion);
    io.out('* Configuring kernel\n');
    await mustRun(
      ctx,
      signal,
      'make',
      ['-C', kernelDir, 'olddefconfig'],
      'configure the kernel sources (make olddefconfig)',
    );
    await mustRun(
      ctx,
      signal,
      'make',
      ['-C', kernelDir, 'modules_prepare'],
      'prepare the kernel sources (make modules_prepare)',
    );
  }
  env.KERNELDIR = kernelDir;
  return env;
}

/** The kernel sources could not be had: the compile is abandoned (legacy: `Unable to download the kernel sources`). */
export class SourcesUnavailable extends Error {
  constructor() {
    super('Unable to download the kernel sources');
  }
}

/** The legacy search order for the running kernel's config (§B.7 step 4). */
function findKernelConfig(ctx: Context): string {
  const { sysroot, kernelRelease, hostRoot } = ctx.settings;
  const rel = kernelRelease.value;
  const candidates = [
    sysPath(sysroot, '/proc/config.gz'),
    sysPath(sysroot, `/boot/config-${rel}`),
    ...(hostRoot === '' ? [] : [path.join(hostRoot, 'boot', `config-${rel}`)]),
    sysPath(sysroot, `/usr/lib/ostree-boot/config-${rel}`),
    ...(hostRoot === '' ? [] : [path.join(hostRoot, 'usr/lib/ostree-boot', `config-${rel}`)]),
    sysPath(sysroot, `/lib/modules/${rel}/config`),
  ];
  const found = candidates.find((c) => {
    try {
      return statSync(c).isFile();
    } catch {
      return false;
    }
  });
  if (found === undefined) throw new UserError('Cannot find kernel config');
  return found;
}

/** Copies the config (whole, decompressing /proc/config.gz) and sets CONFIG_LOCALVERSION. */
function writeConfig(from: string, to: string, localVersion: string): void {
  const raw = readFileSync(from);
  const text = (from.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
  const line = `CONFIG_LOCALVERSION="${localVersion}"`;
  const withLocal = /^CONFIG_LOCALVERSION=.*$/m.test(text)
    ? text.replace(/^CONFIG_LOCALVERSION=.*$/m, line)
    : `${text}\n${line}\n`;
  writeFileSync(to, withLocal);
}

/** COS headers define these for GCC's randstruct plugin; clang chokes on them (legacy §B.7). */
function dropRandomizedStructFields(header: string): void {
  let text: string;
  try {
    text = readFileSync(header, 'utf8');
  } catch {
    return;
  }
  const kept = text
    .split('\n')
    .filter((l) => !/#define randomized_struct_fields_(start|end)/.test(l))
    .join('\n');
  writeFileSync(header, kept);
}

async function mustRun(
  ctx: Context,
  signal: AbortSignal | undefined,
  program: string,
  args: string[],
  what: string,
): Promise<void> {
  const result = await run(program, args, {
    env: ctx.env,
    stdout: 'ignore',
    stderr: 'inherit',
    ...(signal ? { signal } : {}),
  });
  if (result.failure !== undefined || result.exitCode !== 0) {
    throw new UserError(`Could not ${what}: ${result.failure ?? `${program} exited with ${result.exitCode}`}`);
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

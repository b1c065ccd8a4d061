import { randomBytes } from 'node:crypto';
import { constants, copyFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import semverMajor from 'semver/functions/major.js';
import semverValid from 'semver/functions/valid.js';
import { redactUrl } from '../artifact/plan.js';
import { ebpfMsg, filenameBlock, kmodNote, msg } from '../cli/messages.js';
import type { Context } from '../context.js';
import { UserError } from '../errors.js';
import { downloadVerified } from '../fetch/checksums.js';
import { downloadSettingsFrom } from '../fetch/settings.js';
import { relocateFlatcarTools, type ToolRelocation } from '../kmod/flatcar.js';
import { kernelBuildEnv } from '../kmod/kernelDir.js';
import { run } from '../system/exec.js';
import { isDirectory, notRegularFile } from '../system/fsCheck.js';
import { sysPath } from '../system/sysroot.js';
import { tmpdirProblem } from '../system/tmpdir.js';
import { needsKernelSources, prepareKernelSources, SourcesUnavailable } from './kernelSources.js';
import { bpfObjectProblem } from './verify.js';

/** Driver versions from 10.0.0+driver on ship no legacy probe (driver-artifacts.md, timeline). */
export function checkLegacyProbeExists(driverVersion: string): void {
  if (semverValid(driverVersion) !== null && semverMajor(driverVersion) >= 10) {
    throw new UserError(ebpfMsg.noLegacyProbe(driverVersion));
  }
}

/**
 * The legacy eBPF probe flow, legacy-loader.md §B.7 in order: debugfs, the file-name block, download (first
 * success wins), compile, symlink. New (issue #4): every candidate must be an eBPF ELF object before it is kept,
 * a failed `make` is a failure, and work directories go under TMPDIR. `signal` is the run lock's SIGINT/SIGTERM: it
 * stops a download or a build at once, temp files removed (issue #8).
 */
export async function runEbpf(ctx: Context, signal?: AbortSignal): Promise<number> {
  const { settings: s, plan, io } = ctx;
  const name = s.driverName.value;
  checkLegacyProbeExists(s.driverVersion.value);
  io.out(`${msg.runWith('bpf', ctx.enableCompile, ctx.enableDownload)}\n`);
  await mountDebugfs(ctx);
  io.out(
    `${filenameBlock({
      fileName: plan.ebpf.fileName,
      driverName: name,
      targetId: ctx.host.target.targetId,
      kernelRelease: ctx.host.target.fixedKernelRelease,
      kernelVersion: ctx.host.target.fixedKernelVersion,
    })}\n`,
  );

  const probe = plan.ebpf.cachePath;
  await dropInvalid(ctx, probe, 'the cached probe');
  if (ctx.enableDownload) {
    if (existsSync(probe)) io.out(`${ebpfMsg.skipDownload(probe)}\n`);
    else await downloadProbe(ctx, signal);
  }
  if (ctx.enableCompile) {
    if (existsSync(probe)) io.out(`${ebpfMsg.skipCompile(probe)}\n`);
    else await compileProbe(ctx, signal);
  }
  if (!existsSync(probe)) {
    io.err(`${ebpfMsg.unableToLoad(name)}\n`);
    return 1;
  }
  io.out(`${ebpfMsg.located(probe)}\n`);
  replaceSymlink(probe, plan.ebpfSymlink);
  io.out(`${ebpfMsg.symlinked(plan.ebpfSymlink)}\n`);
  return 0;
}

async function mountDebugfs(ctx: Context): Promise<void> {
  const sysroot = ctx.settings.sysroot;
  if (isDirectory(sysPath(sysroot, '/sys/kernel/debug/tracing'))) return;
  ctx.io.out(`${ebpfMsg.mountingDebugfs}\n`);
  const target = sysPath(sysroot, '/sys/kernel/debug');
  const result = await run('mount', ['-t', 'debugfs', 'nodev', target], {
    env: ctx.env,
    stdout: 'inherit',
    stderr: 'inherit',
  });
  if (result.failure !== undefined || result.exitCode !== 0) {
    // Not fatal (legacy, PR falcoctl#361): unprivileged init containers cannot mount, and Falco may not need it.
    ctx.io.err(
      `* Could not mount debugfs at /sys/kernel/debug (${result.failure ?? `mount exited with ${result.exitCode}`}); continuing\n`,
    );
  }
}

async function downloadProbe(ctx: Context, signal: AbortSignal | undefined): Promise<void> {
  const { settings: s, plan, io } = ctx;
  const settings = downloadSettingsFrom(s, ctx.env, (line) => io.err(`${line}\n`));
  for (const url of plan.ebpf.urls) {
    signal?.throwIfAborted();
    io.out(`${ebpfMsg.tryDownload(redactUrl(url))}\n`);
    const log = (line: string) => io.err(`${line}\n`);
    const destination = plan.ebpf.cachePath;
    const request = { url, destination, validate: bpfObjectProblem, log, ...(signal ? { signal } : {}) };
    const policy = { required: s.requireChecksum.value, tmpdir: s.tmpdir }; // issue 19
    const result = await downloadVerified(request, settings, { env: ctx.env }, policy);
    signal?.throwIfAborted();
    if (result.ok) return;
    io.err(`${kmodNote.downloadRejected(result.reason)}\n`);
    io.err(`${ebpfMsg.downloadFailed(s.driverName.value)}\n`);
    // The cache cannot be written (a file where a directory should be, a full disk): no repository can fix that.
    if (result.kind === 'io') return;
  }
}

async function compileProbe(ctx: Context, signal: AbortSignal | undefined): Promise<void> {
  const { settings: s, plan, io } = ctx;
  let workDir: string | undefined;
  let relocation: ToolRelocation | undefined;
  try {
    // Flatcar only (a no-op elsewhere): make -C bpf runs the host-linked fixdep/objtool of the kernel build dir.
    relocation = await relocateFlatcarTools(ctx, signal);
    let extraEnv: Readonly<Record<string, string>> = {};
    if (needsKernelSources(ctx)) {
      const tmpProblem = tmpdirProblem(s.tmpdir);
      if (tmpProblem !== undefined) {
        io.err(`${kmodNote.tmpdirUnusable(s.tmpdir, tmpProblem, 'eBPF probe build')}\n`);
        return;
      }
      workDir = mkdtempSync(path.join(s.tmpdir, 'falco-kernel-'));
      try {
        extraEnv = await prepareKernelSources(ctx, workDir, signal);
      } catch (error) {
        signal?.throwIfAborted();
        if (!(error instanceof SourcesUnavailable)) throw error;
        io.err(`${ebpfMsg.sourcesFailed}\n`);
        return;
      }
    }
    io.out(`${ebpfMsg.compiling(plan.ebpf.fileName)}\n`);
    const bpfDir = sysPath(s.sysroot, `${plan.sourceDir}/bpf`);
    if (!isDirectory(bpfDir)) {
      io.err(
        `${ebpfMsg.compileFailed(`${bpfDir} does not exist: install the Falco package that ships the driver sources in ${plan.sourceDir}`)}\n`,
      );
      return;
    }
    const result = await run('make', ['-C', bpfDir], {
      // Prepared sources (COS, minikube) bring their own KERNELDIR; otherwise the release's headers (falco#3164).
      env: { ...kernelBuildEnv(ctx), ...extraEnv },
      stdout: 'ignore',
      stderr: 'inherit',
      ...(signal ? { signal } : {}),
    });
    if (result.failure !== undefined || result.exitCode !== 0) {
      io.err(`${ebpfMsg.compileFailed(result.failure ?? `make exited with ${result.exitCode}`)}\n`);
      return;
    }
    const built = path.join(bpfDir, 'probe.o');
    const problem = existsSync(built) ? await bpfObjectProblem(built) : `${built} was not produced`;
    if (problem !== undefined) {
      io.err(`${ebpfMsg.rejected(`the built probe ${built}`, problem)}\n`);
      return;
    }
    installFile(built, plan.ebpf.cachePath);
  } finally {
    await relocation?.undo();
    if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
  }
}

/** A cached file that is not an eBPF object is removed rather than symlinked (issue #4). */
async function dropInvalid(ctx: Context, file: string, what: string): Promise<void> {
  const odd = notRegularFile(file);
  if (odd !== undefined) {
    ctx.io.err(`${ebpfMsg.rejected(`${what} ${file}`, `${odd}; removing it`)}\n`);
    rmSync(file, { recursive: true, force: true });
    return;
  }
  if (!existsSync(file)) return;
  const problem = await bpfObjectProblem(file);
  if (problem === undefined) return;
  ctx.io.err(`${ebpfMsg.rejected(`${what} ${file}`, `${problem}; removing it`)}\n`);
  rmSync(file, { force: true });
}

/** Copy beside the destination, then rename: the cache never holds a partial file. */
function installFile(from: string, to: string): void {
  const random = randomBytes(6).toString('hex');
  const temp = path.join(path.dirname(to), `.${path.basename(to)}.part-${process.pid}-${random}`);
  mkdirSync(path.dirname(to), { recursive: true });
  // COPYFILE_EXCL creates the copy with O_EXCL: never through a symlink or into a file planted at that name.
  copyFileSync(from, temp, constants.COPYFILE_EXCL);
  try {
    renameSync(temp, to);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

/** `ln -sf` done atomically: a new link beside the old one, renamed over it. */
function replaceSymlink(target: string, link: string): void {
  const temp = `${link}.tmp-${process.pid}`;
  rmSync(temp, { force: true });
  symlinkSync(target, temp);
  try {
    renameSync(temp, link);
  } catch (error) {
    rmSync(temp, { force: true });
    throw new UserError(`Cannot create the symlink ${link}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

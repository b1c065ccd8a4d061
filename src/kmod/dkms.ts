import { closeSync, existsSync, fchmodSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { kmodMsg, kmodNote } from '../cli/messages.js';
import { readEnforcement, refusesUnsigned } from '../sign/diagnose.js';
import { builtSignatureNote } from '../sign/module.js';
import { run, which } from '../system/exec.js';
import { tmpdirProblem } from '../system/tmpdir.js';
import { relocateFlatcarTools } from './flatcar.js';
import { type Gcc, gccCandidates } from './gcc.js';
import { insmod } from './insmod.js';
import { kernelBuildEnv } from './kernelDir.js';
import { expectation, type KmodSession, relay, say, show, sys, warn } from './session.js';
import { checkModuleFile, compressionOf } from './verify.js';

/** driverkit gives one DKMS build 1000 s (driver-artifacts.md (b)). */
const DKMS_TIMEOUT_MS = 1_000_000;
const MODULE_SUFFIXES = ['.ko', '.ko.gz', '.ko.xz', '.ko.zst'];
/** `<TMPDIR>/falco-dkms-make-XXXXXX/make`. */
const WRAPPER_PREFIX = 'falco-dkms-make-';

type Outcome = 'loaded' | 'next' | 'stop';

/**
 * §B.6.4: `dkms install` once per gcc until a module loads. The module stays installed by dkms, so a later
 * `modprobe falco` (the systemd falco-kmod-inject unit) finds it. Returns true when a module was loaded.
 */
export async function buildWithDkms(s: KmodSession): Promise<boolean> {
  const { settings } = s.ctx;
  const release = settings.kernelRelease.value;
  if (release.includes('uek')) {
    warn(s, kmodMsg.uek);
    return false;
  }
  const dkms = which('dkms', s.ctx.env);
  if (dkms === undefined) {
    warn(s, kmodMsg.requiresDkms);
    return false;
  }
  if (!headersPresent(s, release)) return false;
  if (!tmpdirUsable(s)) return false;
  const gccs = await gccCandidates(s);
  if (gccs.length === 0) warn(s, kmodNote.noGcc(settings.driverName.value));
  // Flatcar only (a no-op elsewhere): host-linked kernel tools are made runnable here, and put back afterwards.
  const relocation = await relocateFlatcarTools(s.ctx, s.signal);
  try {
    for (const gcc of gccs) {
      s.signal.throwIfAborted();
      const outcome = await buildOnce(s, dkms, gcc);
      if (outcome !== 'next') return outcome === 'loaded';
    }
    return false;
  } finally {
    await relocation.undo();
  }
}

/** TMPDIR holds the make wrapper: checked once, not once per compiler, and missing is one line (issue #8). */
function tmpdirUsable(s: KmodSession): boolean {
  const { tmpdir } = s.ctx.settings;
  const wrapper = path.join(tmpdir, WRAPPER_PREFIX);
  if (/['\n\r]/.test(wrapper)) {
    warn(s, kmodNote.badWrapperPath(wrapper));
    return false;
  }
  const problem = tmpdirProblem(tmpdir);
  if (problem !== undefined) warn(s, kmodNote.tmpdirUnusable(tmpdir, problem, 'dkms build'));
  return problem === undefined;
}

async function buildOnce(s: KmodSession, dkms: string, gcc: Gcc): Promise<Outcome> {
  const name = s.ctx.settings.driverName.value;
  say(s, kmodMsg.tryingDkms(name, gcc.path));
  // A fresh private directory (mkdtemp, 0700) per attempt: a fixed name in a shared /tmp could be taken by any
  // local user first (issue #13). Removed in `finally`, and by the exit hook if the run ends without unwinding.
  let dir: string;
  try {
    dir = mkdtempSync(path.join(s.ctx.settings.tmpdir, WRAPPER_PREFIX));
  } catch (error) {
    warn(s, kmodNote.wrapperFailed(path.join(s.ctx.settings.tmpdir, WRAPPER_PREFIX), (error as Error).message));
    return 'next';
  }
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.on('exit', removeDir);
  const wrapper = path.join(dir, 'make');
  try {
    if (!writeMakeWrapper(s, wrapper, gcc.path)) return 'next';
    // -k is the real release (legacy passed the Debian-rewritten one, so dkms targeted a kernel that does not exist).
    const result = await run(
      dkms,
      [
        'install',
        `--directive=MAKE='${wrapper}'`,
        '-m',
        name,
        '-v',
        s.ctx.settings.driverVersion.value,
        '-k',
        s.ctx.settings.kernelRelease.value,
      ],
      { env: kernelBuildEnv(s.ctx), timeoutMs: DKMS_TIMEOUT_MS, signal: s.signal },
    );
    relay(s, result, { stdout: true, stderr: false });
    if (result.exitCode !== 0 || result.failure !== undefined) {
      reportBuildFailure(s, gcc, result.stderr);
      return 'next';
    }
  } finally {
    removeDir();
    process.off('exit', removeDir);
  }
  say(s, kmodMsg.dkmsInstalled(name));
  return loadBuiltModule(s);
}

async function loadBuiltModule(s: KmodSession): Promise<Outcome> {
  const name = s.ctx.settings.driverName.value;
  const file = builtModule(s);
  if (file === undefined) {
    // Legacy stopped trying other compilers here (§B.12.15): dkms said it installed, another gcc cannot help.
    warn(s, kmodMsg.dkmsFileNotFound(name));
    return 'stop';
  }
  say(s, kmodMsg.dkmsFound(name, file));
  // Without a key of our own, the build's own signature (DKMS's MOK) is what the kernel will judge (issue #10).
  if (s.signer === undefined && refusesUnsigned(readEnforcement(s.ctx.settings.sysroot))) {
    say(s, await builtSignatureNote(file, s.ctx.settings.tmpdir, s.ctx.env));
  }
  say(s, kmodMsg.tryingInsmod);
  const why = await checkModuleFile(file, expectation(s), compressionOf(file));
  if (why !== undefined) warn(s, kmodNote.dkmsModuleRejected(file, why));
  if (why === undefined && (await insmod(s, file)).loaded) {
    say(s, kmodMsg.dkmsLoaded(name));
    return 'loaded';
  }
  say(s, kmodMsg.dkmsInsmodFailed(name));
  return 'next';
}

/** `/var/lib/dkms/<name>/<ver>/<release>/<arch>/module/<name>.ko[.gz|.xz|.zst]` (0.31, falco#1862). */
function builtModule(s: KmodSession): string | undefined {
  const { driverName, driverVersion, kernelRelease, arch } = s.ctx.settings;
  const dir = `/var/lib/dkms/${driverName.value}/${driverVersion.value}/${kernelRelease.value}/${arch}/module`;
  return MODULE_SUFFIXES.map((ext) => sys(s, `${dir}/${driverName.value}${ext}`)).find((f) => existsSync(f));
}

function reportBuildFailure(s: KmodSession, gcc: Gcc, dkmsStderr: string): void {
  const { driverName, driverVersion } = s.ctx.settings;
  const log = sys(s, `/var/lib/dkms/${driverName.value}/${driverVersion.value}/build/make.log`);
  let text: string | undefined;
  try {
    text = readFileSync(log, 'utf8');
  } catch {
    text = undefined;
  }
  if (text === undefined) {
    say(s, kmodMsg.makeLogMissing(log, gcc.path));
    // No make.log means dkms stopped before building (no sources, no headers): its own error says why.
    show(s, 'err', dkmsStderr);
    return;
  }
  say(s, kmodMsg.makeLogDump(log, gcc.path));
  show(s, 'out', text);
}

/** DKMS needs a configured build tree for exactly this release (driver-artifacts.md (b), falco#1210). */
function headersPresent(s: KmodSession, release: string): boolean {
  const build = sys(s, `/lib/modules/${release}/build`);
  if (existsSync(build) || existsSync(sys(s, `/lib/modules/${release}/source`))) return true;
  warn(s, kmodNote.missingHeaders(release, build, headersAdvice(s.ctx.host.distro.osId, release)));
  return false;
}

const APT = new Set(['debian', 'ubuntu']);
const RPM = new Set(['rhel', 'centos', 'fedora', 'rocky', 'almalinux', 'amzn', 'ol']);

export function headersAdvice(osId: string | undefined, release: string): string {
  const inContainer = "in a container, also mount the host's /lib/modules and /usr/src";
  if (osId !== undefined && APT.has(osId)) return `install linux-headers-${release} (${inContainer})`;
  if (osId !== undefined && RPM.has(osId)) return `install kernel-devel-${release} (${inContainer})`;
  return `install your distribution's kernel headers package for ${release} (${inContainer})`;
}

/**
 * `<TMPDIR>/falco-dkms-make-XXXXXX/make` runs `make CC=<gcc> "$@"` (0.26, falco#1407; TMPDIR since 0.35, falco#2517). The gcc
 * path comes from our own directory listing and is single-quoted; dkms evaluates MAKE='<wrapper>' in a shell, so a
 * wrapper path with a quote is refused. An existing file or symlink is removed first and the new file created
 * with O_EXCL, so a planted symlink in a shared /tmp is never written through.
 */
export function writeMakeWrapper(s: KmodSession, file: string, gcc: string): boolean {
  if (/['\n\r]/.test(file) || /[\n\r]/.test(gcc)) {
    warn(s, kmodNote.badWrapperPath(/['\n\r]/.test(file) ? file : gcc));
    return false;
  }
  try {
    rmSync(file, { force: true });
    const fd = openSync(file, 'wx', 0o700);
    try {
      writeSync(fd, makeWrapperScript(gcc));
      fchmodSync(fd, 0o755);
    } finally {
      closeSync(fd);
    }
    return true;
  } catch (error) {
    warn(s, kmodNote.wrapperFailed(file, (error as Error).message));
    return false;
  }
}

export function makeWrapperScript(gcc: string): string {
  return `#!/bin/sh\nexec make CC=${shellQuote(gcc)} "$@"\n`;
}

export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

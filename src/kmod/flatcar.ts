import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { flatcarMsg, flatcarNote } from '../cli/messages.js';
import type { Context } from '../context.js';
import { type RunResult, run, which } from '../system/exec.js';
import { isDirectory, isFile } from '../system/fsCheck.js';
import { sysPath } from '../system/sysroot.js';
import { tmpdirProblem } from '../system/tmpdir.js';

/**
 * Flatcar kernel-tool relocation (legacy-loader.md §B.6.4 step 3, §B.7 step 4; PR falco#2043, #2729).
 *
 * Flatcar's kernel build helpers (fixdep, modpost, objtool) are linked against the host's glibc, which is newer than
 * the one in the Falco image, so they fail to start inside the container (flatcar/Flatcar#534). The legacy script
 * copied each one, pointed the copy at the host's dynamic loader and libraries with patchelf, and bind-mounted the
 * copy over the original. Differences from the legacy script, on purpose:
 * - HOST_ROOT and TMPDIR are honoured (legacy hard-coded /host and /tmp); with HOST_ROOT unset the loader runs on
 *   the host itself, where the tools already work, so nothing is relocated.
 * - The build dir is /lib/modules/<real kernel release>/build (legacy took "the only entry" of /lib/modules, which
 *   broke as soon as a second kernel was installed); the only entry is kept as the fallback.
 * - Every failure is one warning and the build still runs (legacy showed only patchelf/mount's own errors, if any).
 * - undo() unmounts and removes the copies after the build: legacy left the bind mounts in place, pointing at
 *   files in /tmp, for the life of the mount namespace.
 */

const TOOLS = ['scripts/basic/fixdep', 'scripts/mod/modpost', 'tools/objtool/objtool'] as const;
/** What legacy globbed for (`ls /host/usr/lib64/ld-linux-*.so.*`). */
const LOADER = /^ld-linux-.*\.so\..+$/;
/** umount of a bind mount is instant; the bound is only there so a hung umount cannot hold the run forever. */
const UNDO_TIMEOUT_MS = 10_000;

export interface ToolRelocation {
  /** Unmounts what was bind-mounted and removes the copies. Safe to call more than once. */
  undo(): Promise<void>;
}

const NOTHING: ToolRelocation = { undo: async () => {} };

/**
 * On a Flatcar target, relocates the kernel tools before a compile (DKMS or eBPF) and returns how to undo it; on any
 * other target it does nothing. Call undo() in a `finally` after the build.
 */
export async function relocateFlatcarTools(ctx: Context, signal?: AbortSignal): Promise<ToolRelocation> {
  if (ctx.host.target.targetId !== 'flatcar') return NOTHING;
  const { settings } = ctx;
  const out = (line: string) => ctx.io.out(`${line}\n`);
  const warn = (line: string) => ctx.io.err(`${line}\n`);
  out(flatcarMsg.detected(ctx.host.distro.osRelease.VERSION_ID ?? ''));
  if (settings.hostRoot === '') {
    out(flatcarNote.hostIsRoot('/usr/lib64/ld-linux-*.so.*'));
    return NOTHING;
  }
  const libDir = path.join(settings.hostRoot, 'usr/lib64');
  const interpreter = hostInterpreter(libDir);
  if (interpreter === undefined) {
    warn(flatcarNote.noInterpreter(path.join(libDir, 'ld-linux-*.so.*')));
    return NOTHING;
  }
  out(flatcarMsg.foundInterpreter(interpreter));
  const buildDir = kernelBuildDir(ctx);
  if (buildDir === undefined) {
    warn(flatcarNote.noBuildDir(settings.kernelRelease.value));
    return NOTHING;
  }
  const patchelf = which('patchelf', ctx.env);
  const mount = which('mount', ctx.env);
  if (patchelf === undefined || mount === undefined) {
    warn(flatcarNote.missingProgram(patchelf === undefined ? 'patchelf' : 'mount'));
    return NOTHING;
  }
  const problem = tmpdirProblem(settings.tmpdir);
  if (problem !== undefined) {
    warn(flatcarNote.tmpdirUnusable(settings.tmpdir, problem));
    return NOTHING;
  }

  const relocation = new Relocation(ctx, mkdtempSync(path.join(settings.tmpdir, 'falco-flatcar-')));
  try {
    for (const tool of TOOLS) {
      signal?.throwIfAborted();
      const original = path.join(buildDir, tool);
      const copy = path.join(relocation.workDir, tool);
      if (!isFile(original)) {
        // objtool exists on x86 only, so this is expected on arm64; legacy skipped it without a word.
        warn(flatcarNote.missingTool(original));
        continue;
      }
      const copied = copyTool(original, copy);
      if (copied !== undefined) {
        warn(flatcarNote.copyFailed(original, copied));
        continue;
      }
      out(flatcarMsg.settingInterpreter(original));
      const opts = { env: ctx.env, ...(signal ? { signal } : {}) };
      const patched = await run(patchelf, ['--set-interpreter', interpreter, '--set-rpath', libDir, copy], opts);
      if (failed(patched)) {
        warn(flatcarNote.patchelfFailed(original, reason(patched, 'patchelf')));
        continue;
      }
      const mounted = await run(mount, ['--bind', copy, original], opts);
      if (failed(mounted)) {
        warn(flatcarNote.mountFailed(original, reason(mounted, 'mount')));
        continue;
      }
      relocation.mounted.push(original);
    }
  } catch (error) {
    // Interrupted between tools: what is already mounted must not outlive the run.
    await relocation.undo();
    throw error;
  }
  return relocation;
}

class Relocation implements ToolRelocation {
  readonly mounted: string[] = [];
  private done = false;

  constructor(
    private readonly ctx: Context,
    readonly workDir: string,
  ) {}

  async undo(): Promise<void> {
    if (this.done) return;
    this.done = true;
    let allUnmounted = true;
    const umount = which('umount', this.ctx.env);
    for (const original of [...this.mounted].reverse()) {
      // No abort signal here on purpose: an interrupted run must still unmount (withLock gives it a grace period).
      const result =
        umount === undefined
          ? undefined
          : await run(umount, [original], { env: this.ctx.env, timeoutMs: UNDO_TIMEOUT_MS });
      if (result !== undefined && !failed(result)) continue;
      allUnmounted = false;
      const why = result === undefined ? 'umount not found on PATH' : reason(result, 'umount');
      this.ctx.io.err(`${flatcarNote.umountFailed(original, why, this.workDir)}\n`);
    }
    // A copy still bound over the original must stay: removing it would leave the mount pointing at a deleted file.
    if (allUnmounted) rmSync(this.workDir, { recursive: true, force: true });
  }
}

/** The first `ld-linux-*.so.*` in the host's /usr/lib64, in ls order (falcoctl also takes the first match). */
function hostInterpreter(libDir: string): string | undefined {
  let names: string[];
  try {
    names = readdirSync(libDir);
  } catch {
    return undefined;
  }
  const first = names.filter((n) => LOADER.test(n)).sort()[0];
  return first === undefined ? undefined : path.join(libDir, first);
}

/** /lib/modules/<real release>/build (not the Flatcar VERSION_ID), else the only kernel there, as legacy did. */
function kernelBuildDir(ctx: Context): string | undefined {
  const { sysroot, kernelRelease } = ctx.settings;
  const own = sysPath(sysroot, `/lib/modules/${kernelRelease.value}/build`);
  if (isDirectory(own)) return own;
  let entries: string[];
  try {
    entries = readdirSync(sysPath(sysroot, '/lib/modules'));
  } catch {
    return undefined;
  }
  const only =
    entries.length === 1 && entries[0] !== undefined
      ? path.join(sysPath(sysroot, '/lib/modules'), entries[0], 'build')
      : undefined;
  return only !== undefined && isDirectory(only) ? only : undefined;
}

/** `cp -a` for one file: the copy keeps the original's mode (it must stay executable). */
function copyTool(original: string, copy: string): string | undefined {
  try {
    mkdirSync(path.dirname(copy), { recursive: true });
    copyFileSync(original, copy);
    chmodSync(copy, statSync(original).mode & 0o7777);
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  }
}

function failed(result: RunResult): boolean {
  return result.failure !== undefined || result.exitCode !== 0;
}

function reason(result: RunResult, program: string): string {
  const said = result.stderr.trim().split('\n')[0];
  return result.failure ?? (said === undefined || said === '' ? `${program} exited with ${result.exitCode}` : said);
}

import { accessSync, constants, statSync } from 'node:fs';

/**
 * Why TMPDIR cannot hold the loader's work files (the dkms make wrapper, eBPF kernel sources), or undefined when it
 * can. Checked once before a build, so that a missing TMPDIR is one line instead of one failure per compiler, or a
 * crash (issue #8). A noexec mount is not detected here: dkms then cannot run the wrapper and its own
 * "Permission denied" is shown (falco#2517).
 */
export function tmpdirProblem(tmpdir: string): string | undefined {
  try {
    if (!statSync(tmpdir).isDirectory()) return 'not a directory';
    accessSync(tmpdir, constants.W_OK | constants.X_OK);
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  }
}

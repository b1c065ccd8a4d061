import { lstatSync, statSync } from 'node:fs';

/** `[ -f path ]`: a regular file (following symlinks), false for anything missing or unreadable. */
export function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** `[ -d path ]`: a directory (following symlinks), false for anything missing or unreadable. */
export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Why something at `path` is not a plain file (a FIFO, whose open() blocks forever, a directory, a symlink, a
 * device), or undefined when it is a regular file or nothing (issue #13). lstat: a symlink is never followed.
 */
export function notRegularFile(path: string): string | undefined {
  let info: import('node:fs').Stats;
  try {
    info = lstatSync(path);
  } catch {
    return undefined;
  }
  if (info.isFile()) return undefined;
  if (info.isFIFO()) return 'it is a FIFO, not a regular file';
  if (info.isDirectory()) return 'it is a directory, not a regular file';
  if (info.isSymbolicLink()) return 'it is a symbolic link, not a regular file';
  return 'it is not a regular file';
}

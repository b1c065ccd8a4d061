import { statSync } from 'node:fs';

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

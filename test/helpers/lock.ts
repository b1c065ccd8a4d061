import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Whether a run holds the kernel lock on `file` now (asked with flock(1) -n from outside; no file: not held). */
export function isLocked(file: string): boolean {
  if (!existsSync(file)) return false;
  return spawnSync('flock', ['-x', '-n', file, 'true']).status !== 0;
}

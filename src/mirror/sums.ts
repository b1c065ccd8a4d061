import { randomBytes } from 'node:crypto';
import { readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { formatSums, SUMS_FILE, sha256File } from '../fetch/checksums.js';

/**
 * Writes `<dir>/SHA256SUMS` for every driver file in the directory (dot files — temp files — and the sums file
 * itself left out), atomically: a loader reading it meanwhile sees the old one or the new one, never half of one.
 */
export async function writeSums(dir: string): Promise<number> {
  const entries = await readdir(dir, { withFileTypes: true });
  const sums = new Map<string, string>();
  for (const entry of entries) {
    if (!entry.isFile() || entry.name.startsWith('.') || entry.name === SUMS_FILE) continue;
    sums.set(entry.name, await sha256File(path.join(dir, entry.name)));
  }
  const temp = path.join(dir, `.${SUMS_FILE}.part-${process.pid}-${randomBytes(6).toString('hex')}`);
  try {
    await writeFile(temp, formatSums(sums), { flag: 'wx', mode: 0o644 });
    await rename(temp, path.join(dir, SUMS_FILE));
  } finally {
    await rm(temp, { force: true });
  }
  return sums.size;
}

import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { finished, type Readable } from 'node:stream';
import { isAlive } from '../system/lock.js';
import { aborted, describe, Failure, tooLarge } from './failure.js';
import type { DownloadRequest } from './types.js';

/** Bytes written so far; the caller reads it for progress and error messages. */
export interface Counter {
  bytes: number;
}

/**
 * Streams a body into a fresh temp file beside the destination (same directory, so the final rename is atomic),
 * created exclusively (`wx`: never an existing file or a planted symlink) and fsynced. Removed on any failure.
 *
 * Each chunk is written synchronously from the 'data' event, so the body does not pile up in memory even though
 * download.ts lets undici buffer without limit (its parser must never pause: nodejs/undici#5360, found by the QEMU
 * end-to-end test against busybox httpd).
 */
export async function writeTemp(
  request: DownloadRequest,
  maxBytes: number,
  body: Readable,
  counter: Counter,
  onChunk: () => void,
): Promise<string> {
  const { destination } = request;
  const random = randomBytes(6).toString('hex');
  const temp = path.join(path.dirname(destination), `.${path.basename(destination)}.part-${process.pid}-${random}`);
  await removeStaleParts(destination);
  let fd: number;
  try {
    fd = openSync(temp, 'wx', 0o644);
  } catch (error) {
    body.on('error', () => undefined);
    body.destroy();
    throw new Failure('io', `cannot create ${temp}: ${describe(error)}`);
  }
  try {
    await new Promise<void>((resolve, reject) => {
      body.on('data', (chunk: Uint8Array) => {
        try {
          onChunk();
          if (counter.bytes + chunk.length > maxBytes) throw tooLarge('the body kept going', maxBytes);
          writeAll(fd, chunk);
          counter.bytes += chunk.length;
        } catch (error) {
          body.destroy(error as Error);
        }
      });
      finished(body, (error) => (error ? reject(error) : resolve()));
    });
    fsyncSync(fd);
    closeSync(fd);
    return temp;
  } catch (error) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * A run killed outright (SIGKILL, the OOM killer, a power cut) cannot remove its temp file; the next download of the
 * same file removes those whose process is gone, so the cache directory holds complete files only (issue #8).
 */
async function removeStaleParts(destination: string): Promise<void> {
  const prefix = `.${path.basename(destination)}.part-`;
  const entries = await readdir(path.dirname(destination)).catch(() => [] as string[]);
  for (const name of entries) {
    const pid = name.startsWith(prefix) ? Number(name.slice(prefix.length).split('-')[0]) : Number.NaN;
    if (Number.isSafeInteger(pid) && pid > 0 && !isAlive(pid)) {
      await rm(path.join(path.dirname(destination), name), { force: true });
    }
  }
}

function writeAll(fd: number, chunk: Uint8Array): void {
  try {
    for (let offset = 0; offset < chunk.length; ) offset += writeSync(fd, chunk, offset);
  } catch (error) {
    throw new Failure('io', `cannot write the download: ${describe(error)}`);
  }
}

/**
 * validate(), then rename over the destination. rename replaces whatever is there, a symlink included, and never
 * writes through it; a failed download therefore leaves the previous file untouched.
 */
export async function publish(temp: string, request: DownloadRequest): Promise<void> {
  try {
    const verdict = await request.validate?.(temp).catch((error: unknown) => `validation failed: ${describe(error)}`);
    if (verdict !== undefined) throw new Failure('invalid', verdict);
    if (request.signal?.aborted) throw aborted();
    await rename(temp, request.destination).catch((error: unknown) => {
      throw new Failure('io', `cannot move the download to ${request.destination}: ${describe(error)}`);
    });
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

import { createHash, type Hash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, writevSync } from 'node:fs';
import { readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { finished, type Readable } from 'node:stream';
import { isAlive } from '../system/lock.js';
import { collectYoungGarbage } from '../system/memory.js';
import { aborted, describe, Failure, tooLarge } from './failure.js';
import type { DownloadRequest, Received } from './types.js';

/** Bytes written so far; the caller reads it for progress and error messages. */
export interface Counter {
  bytes: number;
  /** Hex SHA-256 of the body, set when writeTemp() returns, if the request asked for it (`digest`). */
  sha256?: string;
}

/** Chunks are written in batches of this size: one writev(2) instead of ~16 write(2) of undici's 64 KiB chunks. */
const BATCH_BYTES = 1024 * 1024;
/** A young-generation collection this often frees the dead socket buffers at once (system/memory.ts). */
const COLLECT_EVERY_BYTES = 1024 * 1024;

/**
 * Streams a body into a fresh temp file beside the destination (same directory, so the final rename is atomic),
 * created exclusively (`wx`: never an existing file or a planted symlink) and fsynced. Removed on any failure.
 *
 * Chunks are written synchronously from the 'data' event, at most BATCH_BYTES at a time, so the body does not pile
 * up in memory even though download.ts lets undici buffer without limit (its parser must never pause:
 * nodejs/undici#5360, found by the QEMU end-to-end test against busybox httpd): while a write blocks, the socket is
 * not read and TCP slows the sender. The optional digest is computed from the same chunks (issue #17: one pass, the
 * file is never read back).
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
  const hash: Hash | undefined = request.digest === 'sha256' ? createHash('sha256') : undefined;
  const batch = new Batch(fd);
  let sinceCollect = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      body.on('data', (chunk: Buffer) => {
        try {
          onChunk();
          if (counter.bytes + chunk.length > maxBytes) throw tooLarge('the body kept going', maxBytes);
          hash?.update(chunk);
          batch.add(chunk);
          counter.bytes += chunk.length;
          sinceCollect += chunk.length;
          if (sinceCollect >= COLLECT_EVERY_BYTES) {
            sinceCollect = 0;
            collectYoungGarbage();
          }
        } catch (error) {
          body.destroy(error as Error);
        }
      });
      finished(body, (error) => (error ? reject(error) : resolve()));
    });
    batch.flush();
    if (hash !== undefined) counter.sha256 = hash.digest('hex');
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

/** Pending chunks, written with one writev(2) once BATCH_BYTES have gathered (and at the end). */
class Batch {
  #chunks: Buffer[] = [];
  #bytes = 0;
  constructor(private readonly fd: number) {}

  add(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    if (this.#bytes >= BATCH_BYTES) this.flush();
  }

  flush(): void {
    let chunks = this.#chunks;
    this.#chunks = [];
    this.#bytes = 0;
    try {
      while (chunks.length > 0) {
        let written = writevSync(this.fd, chunks);
        // A short write (a full disk is reported on the next call): skip what went out, retry the rest.
        while (chunks.length > 0 && written >= (chunks[0] as Buffer).length)
          written -= (chunks.shift() as Buffer).length;
        if (written > 0) chunks = [(chunks[0] as Buffer).subarray(written), ...chunks.slice(1)];
      }
    } catch (error) {
      throw new Failure('io', `cannot write the download: ${describe(error)}`);
    }
  }
}

/**
 * validate(), then rename over the destination. rename replaces whatever is there, a symlink included, and never
 * writes through it; a failed download therefore leaves the previous file untouched.
 */
export async function publish(temp: string, request: DownloadRequest, received: Received): Promise<void> {
  try {
    const verdict = await request
      .validate?.(temp, received)
      .catch((error: unknown) => `validation failed: ${describe(error)}`);
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

import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { aborted, describe, Failure, tooLarge } from './failure.js';
import type { DownloadRequest } from './types.js';

/** Bytes written so far; the caller reads it for progress and error messages. */
export interface Counter {
  bytes: number;
}

/**
 * Streams chunks into a fresh temp file beside the destination (same directory, so the final rename is atomic),
 * created exclusively (`wx`: never an existing file or a planted symlink) and fsynced. Removed on any failure.
 */
export async function writeTemp(
  request: DownloadRequest,
  maxBytes: number,
  chunks: AsyncIterable<Uint8Array>,
  counter: Counter,
  onChunk: () => void,
): Promise<string> {
  const { destination } = request;
  const random = randomBytes(6).toString('hex');
  const temp = path.join(path.dirname(destination), `.${path.basename(destination)}.part-${process.pid}-${random}`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, 'wx', 0o644).catch((error: unknown) => {
      throw new Failure('io', `cannot create ${temp}: ${describe(error)}`);
    });
    for await (const chunk of chunks) {
      onChunk();
      if (counter.bytes + chunk.length > maxBytes) throw tooLarge('the body kept going', maxBytes);
      await writeAll(handle, chunk);
      counter.bytes += chunk.length;
    }
    await handle.sync();
    await handle.close();
    return temp;
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw error;
  }
}

async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  try {
    for (let offset = 0; offset < chunk.length; ) offset += (await handle.write(chunk, offset)).bytesWritten;
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

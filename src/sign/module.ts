import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import path from 'node:path';
import { type ByteSource, fileSource } from '../artifact/elf.js';
import { signNote } from '../cli/messages.js';
import { checkModuleSource, compressionOf } from '../kmod/verify.js';
import { hexColons, nameOf, serialText } from './cert.js';
import { readModule } from './decompress.js';
import type { SigningMaterial } from './material.js';
import {
  namesCert,
  readTrailer,
  type SignatureTrailer,
  signatureTrailer,
  signedByStream,
  streamingSigner,
} from './pkcs7.js';
import { runSigningTool, type ToolChoice } from './tools.js';

/** Everything signing needs for one run: the checked key material, the chosen tool, where copies go. */
export interface Signer {
  readonly material: SigningMaterial;
  readonly tool: ToolChoice;
  /** `$HOME/.falco/<driver version>/<arch>`: the only directory signed files are written to. */
  readonly cacheDir: string;
  readonly kernelRelease: string;
  readonly arch: string;
  readonly env: NodeJS.ProcessEnv;
  readonly say: (line: string) => void;
  readonly warn: (line: string) => void;
}

export type Prepared =
  | { readonly ok: true; readonly file: string; readonly copy: boolean }
  | { readonly ok: false; readonly problem: string; readonly fileBlamed: boolean };

/**
 * Issue #10: the file insmod should load instead of `file`. A module already signed by the certificate is loaded as
 * it is. Otherwise its old signature (another key's, e.g. DKMS's own MOK) is stripped — the kernel checks only one —
 * and a signed copy is written atomically into the cache: over the cached file itself for cached and downloaded
 * modules, as `<name>-<release>.signed.ko` beside them for anything else (a DKMS build under /var/lib/dkms, which
 * is never modified).
 */
export async function signForInsmod(signer: Signer, file: string, signal?: AbortSignal): Promise<Prepared> {
  try {
    mkdirSync(signer.cacheDir, { recursive: true, mode: 0o750 });
  } catch (error) {
    return { ok: false, problem: signNote.cannotWrite(signer.cacheDir, (error as Error).message), fileBlamed: false };
  }
  const read = await readModule(file, signer.cacheDir, signer.env, signal);
  if ('problem' in read) return { ok: false, problem: read.problem, fileBlamed: false };
  let module: FileHandle;
  try {
    module = await open(read.file, 'r');
  } catch (error) {
    read.release();
    return { ok: false, problem: signNote.failed(file, (error as Error).message), fileBlamed: false };
  }
  try {
    return await signOpened(signer, file, module, signal);
  } finally {
    await module.close();
    read.release();
  }
}

/** The module is read at positions (trailer, ELF checks) and streamed (hash, copy): never held in memory (#17). */
async function signOpened(signer: Signer, file: string, module: FileHandle, signal?: AbortSignal): Promise<Prepared> {
  const { material } = signer;
  const src = fileSource(module.fd, (await module.stat()).size);
  const existing = readTrailer(src);
  if (existing !== undefined && namesCert(existing, material.cert)) {
    if (await signedByStream(existing, material.cert, rangeChunks(module, existing.unsignedLength))) {
      signer.say(signNote.alreadySigned(file, material.cert.name));
      return { ok: true, file, copy: false };
    }
  }
  if (existing !== undefined) signer.say(signNote.replacing(file, describeSigner(existing), material.cert.name));
  const unsignedLength = existing?.unsignedLength ?? src.size;
  const why = checkModuleSource(within(src, unsignedLength), {
    arch: signer.arch,
    kernelRelease: signer.kernelRelease,
  });
  if (why !== undefined) return { ok: false, problem: signNote.notAModule(file, why), fileBlamed: true };

  const destination = destinationFor(signer, file);
  const temp = path.join(
    path.dirname(destination),
    `.${path.basename(destination)}.sign-${process.pid}-${randomBytes(6).toString('hex')}`,
  );
  try {
    const used = await signInto(signer, { handle: module, length: unsignedLength }, temp, signal);
    renameSync(temp, destination);
    signer.say(signNote.signed(destination, material.cert.name, material.config.hash, used));
    return { ok: true, file: destination, copy: destination !== file };
  } catch (error) {
    signal?.throwIfAborted();
    return { ok: false, problem: signNote.failed(file, (error as Error).message), fileBlamed: false };
  } finally {
    rmSync(temp, { force: true });
  }
}

/** The first `length` bytes of `src`: the module without its old signature, as the ELF checks should see it. */
function within(src: ByteSource, length: number): ByteSource {
  return { size: length, read: (at, n) => src.read(at, Math.max(0, Math.min(n, length - at))) };
}

/** In place for an uncompressed file in the cache; else a copy named after the module and the kernel. */
function destinationFor(signer: Signer, file: string): string {
  const inCache = path.resolve(path.dirname(file)) === path.resolve(signer.cacheDir);
  if (inCache && compressionOf(file) === undefined) return file;
  const stem = path.basename(file).replace(/\.ko(\.(gz|xz|zst))?$/, '');
  return path.join(signer.cacheDir, `${stem}-${signer.kernelRelease}.signed.ko`);
}

interface Unsigned {
  readonly handle: FileHandle;
  readonly length: number;
}

/**
 * Writes the signed module to `temp` with the chosen program, falling back (with one line) to the built-in writer
 * when the program cannot run or leaves no valid signature by the certificate — typically the host's sign-file
 * inside a container whose libcrypto it was not built against. Returns the name of what signed it.
 */
async function signInto(signer: Signer, unsigned: Unsigned, temp: string, signal?: AbortSignal): Promise<string> {
  const { material, tool } = signer;
  if (tool.tool !== 'builtin') {
    const digest = createHash('sha256');
    await writeDurably(temp, unsigned, [digest], Buffer.alloc(0));
    const expected = digest.digest('hex');
    let problem = await runSigningTool(tool, material, temp, signer.env, signal);
    if (problem === undefined && (await toolResultIsGood(temp, material, unsigned.length, expected))) return tool.tool;
    problem ??= `${tool.path} left no valid signature by '${material.cert.name}'`;
    signer.warn(signNote.toolFallback(problem));
    rmSync(temp, { force: true });
  }
  // One pass: each chunk is hashed for the signature and written to the copy; the signature is appended at the end.
  const signing = streamingSigner(material.key, material.cert, material.config.hash);
  await writeDurably(temp, unsigned, [signing], () => signatureTrailer(signing.finish()));
  return 'built-in signer';
}

/** The program's output: a signature by the certificate over exactly the bytes we gave it (same length and sha256). */
async function toolResultIsGood(
  temp: string,
  material: SigningMaterial,
  length: number,
  expected: string,
): Promise<boolean> {
  const handle = await open(temp, 'r');
  try {
    const result = readTrailer(fileSource(handle.fd, (await handle.stat()).size));
    if (result === undefined || result.unsignedLength !== length) return false;
    const digest = createHash('sha256');
    const good = await signedByStream(result, material.cert, tap(rangeChunks(handle, length), digest));
    return good && digest.digest('hex') === expected;
  } finally {
    await handle.close();
  }
}

async function* tap(chunks: AsyncIterable<Buffer>, sink: { update(chunk: Uint8Array): unknown }) {
  for await (const chunk of chunks) {
    sink.update(chunk);
    yield chunk;
  }
}

/** `length` bytes from the start of `handle`, 1 MiB at a time into one reused buffer (consume before the next). */
async function* rangeChunks(handle: FileHandle, length: number): AsyncGenerator<Buffer> {
  const buffer = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(1, length)));
  for (let at = 0; at < length; ) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, length - at), at);
    if (bytesRead === 0) throw new Error('the module got shorter while it was being read');
    at += bytesRead;
    yield buffer.subarray(0, bytesRead);
  }
}

const CHUNK = 1024 * 1024;

/**
 * Copies the unsigned bytes into `file`, created exclusively (never through a planted file or symlink), feeding each
 * chunk to `sinks` on the way, then appends `tail` and fsyncs before the rename makes it visible.
 */
async function writeDurably(
  file: string,
  unsigned: Unsigned,
  sinks: ReadonlyArray<{ update(chunk: Uint8Array): unknown }>,
  tail: Buffer | (() => Buffer),
): Promise<void> {
  const out = await open(file, 'wx', 0o644);
  try {
    for await (const chunk of rangeChunks(unsigned.handle, unsigned.length)) {
      for (const sink of sinks) sink.update(chunk);
      await writeAll(out, chunk);
    }
    await writeAll(out, typeof tail === 'function' ? tail() : tail);
    await out.sync();
  } finally {
    await out.close();
  }
}

async function writeAll(out: FileHandle, data: Buffer): Promise<void> {
  for (let at = 0; at < data.length; ) at += (await out.write(data, at, data.length - at)).bytesWritten;
}

/** What a module carries, naming the signer as modinfo would (signer and sig_key). */
export function describeSigner(sig: SignatureTrailer): string {
  if (sig.problem !== undefined || sig.signer === undefined) return sig.problem ?? 'an unreadable signature';
  if (sig.signer.kind === 'keyId') return `a signature by key id ${hexColons(sig.signer.keyId)}`;
  return `a signature by '${nameOf(sig.signer.issuer)}' (serial ${serialText(sig.signer.serial)})`;
}

/**
 * One line about a DKMS build's own signature (DKMS ≥ 3.0.4 signs with its MOK), for hosts that refuse unsigned
 * modules: whether the kernel can accept it depends on that key being enrolled.
 */
export async function builtSignatureNote(file: string, workDir: string, env: NodeJS.ProcessEnv): Promise<string> {
  const read = await readModule(file, workDir, env);
  if ('problem' in read) return `* ${read.problem}`;
  try {
    const fd = openSync(read.file, 'r');
    try {
      const sig = readTrailer(fileSource(fd, fstatSync(fd).size));
      return sig === undefined ? signNote.builtUnsigned : signNote.builtSignedBy(describeSigner(sig));
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    return `* cannot read ${file} (${(error as Error).message})`;
  } finally {
    read.release();
  }
}

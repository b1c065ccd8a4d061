import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { signNote } from '../cli/messages.js';
import { checkModuleBytes, compressionOf } from '../kmod/verify.js';
import { hexColons, nameOf, serialText } from './cert.js';
import { readModule } from './decompress.js';
import type { SigningMaterial } from './material.js';
import { type AppendedSignature, appendSignature, buildSignedData, signedBy, splitSignature } from './pkcs7.js';
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
  const { material } = signer;
  try {
    mkdirSync(signer.cacheDir, { recursive: true, mode: 0o750 });
  } catch (error) {
    return { ok: false, problem: signNote.cannotWrite(signer.cacheDir, (error as Error).message), fileBlamed: false };
  }
  const read = await readModule(file, signer.cacheDir, signer.env, signal);
  if ('problem' in read) return { ok: false, problem: read.problem, fileBlamed: false };
  const existing = splitSignature(read.data);
  if (existing !== undefined && signedBy(existing, material.cert)) {
    signer.say(signNote.alreadySigned(file, material.cert.name));
    return { ok: true, file, copy: false };
  }
  if (existing !== undefined) signer.say(signNote.replacing(file, describeSigner(existing), material.cert.name));
  const unsigned = existing?.unsigned ?? read.data;
  const why = checkModuleBytes(unsigned, { arch: signer.arch, kernelRelease: signer.kernelRelease });
  if (why !== undefined) return { ok: false, problem: signNote.notAModule(file, why), fileBlamed: true };

  const destination = destinationFor(signer, file);
  const temp = path.join(
    path.dirname(destination),
    `.${path.basename(destination)}.sign-${process.pid}-${randomBytes(6).toString('hex')}`,
  );
  try {
    const used = await signInto(signer, unsigned, temp, signal);
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

/** In place for an uncompressed file in the cache; else a copy named after the module and the kernel. */
function destinationFor(signer: Signer, file: string): string {
  const inCache = path.resolve(path.dirname(file)) === path.resolve(signer.cacheDir);
  if (inCache && compressionOf(file) === undefined) return file;
  const stem = path.basename(file).replace(/\.ko(\.(gz|xz|zst))?$/, '');
  return path.join(signer.cacheDir, `${stem}-${signer.kernelRelease}.signed.ko`);
}

/**
 * Writes the signed module to `temp` with the chosen program, falling back (with one line) to the built-in writer
 * when the program cannot run or leaves no valid signature by the certificate — typically the host's sign-file
 * inside a container whose libcrypto it was not built against. Returns the name of what signed it.
 */
async function signInto(signer: Signer, unsigned: Buffer, temp: string, signal?: AbortSignal): Promise<string> {
  const { material, tool } = signer;
  if (tool.tool !== 'builtin') {
    writeDurably(temp, unsigned);
    let problem = await runSigningTool(tool, material, temp, signer.env, signal);
    if (problem === undefined) {
      const result = splitSignature(readFileSync(temp));
      if (result !== undefined && signedBy(result, material.cert) && result.unsigned.equals(unsigned)) return tool.tool;
      problem = `${tool.path} left no valid signature by '${material.cert.name}'`;
    }
    signer.warn(signNote.toolFallback(problem));
    rmSync(temp, { force: true });
  }
  const pkcs7 = buildSignedData(unsigned, material.key, material.cert, material.config.hash);
  writeDurably(temp, appendSignature(unsigned, pkcs7));
  return 'built-in signer';
}

/** Created exclusively (never through a planted file or symlink) and fsynced before the rename makes it visible. */
function writeDurably(file: string, data: Buffer): void {
  const fd = openSync(file, 'wx', 0o644);
  try {
    for (let at = 0; at < data.length; ) at += writeSync(fd, data, at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** What a module carries, naming the signer as modinfo would (signer and sig_key). */
export function describeSigner(sig: AppendedSignature): string {
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
  const sig = splitSignature(read.data);
  return sig === undefined ? signNote.builtUnsigned : signNote.builtSignedBy(describeSigner(sig));
}

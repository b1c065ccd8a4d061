import { closeSync, createReadStream, createWriteStream, fstatSync, openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import {
  type ByteSource,
  bufferSource,
  ELF_TYPE,
  ElfError,
  EM,
  fileSource,
  isElf,
  machineForArch,
  machineName,
  modinfoValue,
  parseModinfo,
  readElf,
  sectionData,
} from '../artifact/elf.js';

/** What a module file must match to be worth handing to insmod (issue #3). */
export interface ModuleExpectation {
  /** `uname -m` (settings.arch). */
  readonly arch: string;
  /**
   * The release the module is for: the real `uname -r` or DRIVER_KERNEL_RELEASE, never the target's fixed-up name
   * (a Debian module named 6.1.55-1-amd64 carries vermagic 6.1.0-13-amd64).
   */
  readonly kernelRelease: string;
}

export type Compression = 'gz' | 'xz' | 'zst' | undefined;

/** DKMS compresses modules when the kernel's own are compressed (driver-artifacts.md (b)). */
export function compressionOf(fileName: string): Compression {
  const match = /\.ko\.(gz|xz|zst)$/.exec(fileName);
  return match === null ? undefined : (match[1] as Compression);
}

const MAX_GUNZIP = 512 * 1024 * 1024;

/**
 * Returns undefined when `file` looks like a loadable module for this machine and kernel, else one line saying why
 * not. Catches what the legacy script handed to insmod blindly: error pages saved as `.ko` (a 200 from a proxy or
 * captive portal), truncated files, modules for another kernel or arch. Reads the header, the section table, the
 * section names and `.modinfo` at their positions (issue #17): kilobytes, never the whole module. A `.ko.gz` is
 * decompressed as a stream into a private temp file first (gzip cannot be read at positions).
 */
export async function checkModuleFile(
  file: string,
  expect: ModuleExpectation,
  compression: Compression,
): Promise<string | undefined> {
  // xz and zstd would need a decompressor Node 20 lacks; kmod's insmod reads them itself and judges them.
  if (compression === 'xz' || compression === 'zst') return undefined;
  if (compression === 'gz') return checkGzipped(file, expect);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    return `cannot be read (${error instanceof Error ? error.message : String(error)})`;
  }
  try {
    return checkModuleSource(fileSource(fd, fstatSync(fd).size), expect);
  } catch (error) {
    return `cannot be read (${error instanceof Error ? error.message : String(error)})`;
  } finally {
    closeSync(fd);
  }
}

async function checkGzipped(file: string, expect: ModuleExpectation): Promise<string | undefined> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fdl-gunzip-')); // 0700: no other user sees or plants it
  const plain = path.join(dir, 'module.ko');
  try {
    await pipeline(
      createReadStream(file),
      createGunzip(),
      limitTo(MAX_GUNZIP),
      createWriteStream(plain, { flags: 'wx', mode: 0o600 }),
    );
    return await checkModuleFile(plain, expect, undefined);
  } catch (error) {
    return `cannot be read (${error instanceof Error ? error.message : String(error)})`;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function limitTo(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      done(seen > max ? new Error(`it decompresses to more than ${max} bytes`) : null, chunk);
    },
  });
}

export function checkModuleBytes(data: Buffer, expect: ModuleExpectation): string | undefined {
  return checkModuleSource(bufferSource(data), expect);
}

/** The checks on any byte source: a Buffer, or a file read at positions. */
export function checkModuleSource(src: ByteSource, expect: ModuleExpectation): string | undefined {
  if (src.size === 0) return 'an empty file';
  const head = src.read(0, 1024);
  if (!isElf(head)) return looksLikeHtml(head) ? 'an HTML error page served with status 200' : 'not an ELF file';
  try {
    const elf = readElf(src);
    if (elf.type !== ELF_TYPE.REL) return `an ELF file of type ${elf.type}, not a relocatable kernel module`;
    const wanted = machineForArch(expect.arch);
    if (wanted !== undefined && elf.machine !== wanted) {
      return `built for ${machineName(elf.machine)}, this machine is ${expect.arch}`;
    }
    if (elf.machine === EM.BPF) return 'an eBPF object, not a kernel module';
    const modinfo = sectionData(src, elf, '.modinfo');
    if (modinfo === undefined) return 'no .modinfo section: not a kernel module';
    const vermagic = modinfoValue(parseModinfo(modinfo), 'vermagic');
    if (vermagic === undefined) return 'no vermagic in .modinfo: not a kernel module';
    return vermagicMismatch(vermagic, expect.kernelRelease);
  } catch (error) {
    if (error instanceof ElfError) return `a damaged ELF file (${error.message})`;
    throw error;
  }
}

/** vermagic is `<release> SMP preempt mod_unload …`: the release, then a space (or nothing). */
export function vermagicMismatch(vermagic: string, kernelRelease: string): string | undefined {
  if (vermagic === kernelRelease || vermagic.startsWith(`${kernelRelease} `)) return undefined;
  const builtFor = vermagic.split(' ')[0] ?? '';
  return `built for ${builtFor === '' ? 'an unnamed kernel' : builtFor}, this kernel is ${kernelRelease}`;
}

function looksLikeHtml(data: Buffer): boolean {
  const head = data.toString('latin1');
  return head.trimStart().startsWith('<') || /<html/i.test(head);
}

import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import {
  ELF_TYPE,
  ElfError,
  EM,
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
 * captive portal), truncated files, modules for another kernel or arch.
 */
export async function checkModuleFile(
  file: string,
  expect: ModuleExpectation,
  compression: Compression,
): Promise<string | undefined> {
  // xz and zstd would need a decompressor Node 20 lacks; kmod's insmod reads them itself and judges them.
  if (compression === 'xz' || compression === 'zst') return undefined;
  let data: Buffer;
  try {
    data = await readFile(file);
    if (compression === 'gz') data = await promisify(gunzip)(data, { maxOutputLength: MAX_GUNZIP });
  } catch (error) {
    return `cannot be read (${error instanceof Error ? error.message : String(error)})`;
  }
  return checkModuleBytes(data, expect);
}

export function checkModuleBytes(data: Buffer, expect: ModuleExpectation): string | undefined {
  if (data.length === 0) return 'an empty file';
  if (!isElf(data)) return looksLikeHtml(data) ? 'an HTML error page served with status 200' : 'not an ELF file';
  try {
    const elf = readElf(data);
    if (elf.type !== ELF_TYPE.REL) return `an ELF file of type ${elf.type}, not a relocatable kernel module`;
    const wanted = machineForArch(expect.arch);
    if (wanted !== undefined && elf.machine !== wanted) {
      return `built for ${machineName(elf.machine)}, this machine is ${expect.arch}`;
    }
    if (elf.machine === EM.BPF) return 'an eBPF object, not a kernel module';
    const modinfo = sectionData(data, elf, '.modinfo');
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
  const head = data.subarray(0, 1024).toString('latin1');
  return head.trimStart().startsWith('<') || /<html/i.test(head);
}

import { readSync } from 'node:fs';

/**
 * A small, bounds-checked ELF reader: enough to tell whether a file is a kernel module (or an eBPF object) for this
 * machine before handing it to the kernel (issue #3), without spawning `modinfo`/`readelf`, which minimal images lack.
 * It reads the header, the section headers and their names; nothing is executed or relocated. From a file it reads
 * only those bytes, at their positions (issue #17): never the whole module.
 */

export const ELF_TYPE = { REL: 1, EXEC: 2, DYN: 3, CORE: 4 } as const;

/** e_machine values this tool meets: the two Falco ships drivers for, and eBPF objects (issue #4). */
export const EM = { I386: 3, ARM: 40, X86_64: 62, AARCH64: 183, BPF: 247 } as const;

const MACHINE_NAMES: Readonly<Record<number, string>> = {
  [EM.I386]: 'i386',
  [EM.ARM]: 'arm',
  [EM.X86_64]: 'x86_64',
  [EM.AARCH64]: 'aarch64',
  [EM.BPF]: 'eBPF',
};

/** `uname -m` → e_machine; undefined for an arch this tool has no opinion about (no check is made then). */
export function machineForArch(arch: string): number | undefined {
  if (arch === 'x86_64' || arch === 'amd64') return EM.X86_64;
  if (arch === 'aarch64' || arch === 'arm64') return EM.AARCH64;
  return undefined;
}

export function machineName(machine: number): string {
  return MACHINE_NAMES[machine] ?? `e_machine ${machine}`;
}

export interface ElfSection {
  readonly name: string;
  readonly type: number;
  readonly offset: number;
  readonly size: number;
}

export interface ElfInfo {
  readonly bits: 32 | 64;
  readonly littleEndian: boolean;
  readonly type: number;
  readonly machine: number;
  readonly sections: readonly ElfSection[];
}

/** The file looks like ELF but its structure is broken (truncated, offsets out of range). */
export class ElfError extends Error {}

const SHT_NOBITS = 8;
const SHN_XINDEX = 0xffff;

export function isElf(data: Uint8Array): boolean {
  return data.length >= 4 && data[0] === 0x7f && data[1] === 0x45 && data[2] === 0x4c && data[3] === 0x46;
}

/**
 * Where the ELF reader gets its bytes: a Buffer, or an open file read at positions (issue #17), so checking a module
 * costs the header, the section table and the few sections asked for — kilobytes, whatever the file's size.
 */
export interface ByteSource {
  readonly size: number;
  /** Up to `length` bytes at `at` (fewer only past the end). */
  read(at: number, length: number): Buffer;
}

export function bufferSource(data: Buffer): ByteSource {
  return { size: data.length, read: (at, length) => data.subarray(at, at + length) };
}

/** Positioned reads on `fd` (pread); `bytesRead` counts what was read, for the tests that bound it. */
export function fileSource(fd: number, size: number): ByteSource & { bytesRead: number } {
  const source = {
    size,
    bytesRead: 0,
    read(at: number, length: number): Buffer {
      const buf = Buffer.alloc(Math.max(0, Math.min(length, size - at)));
      let done = 0;
      while (done < buf.length) {
        const n = readSync(fd, buf, done, buf.length - done, at + done);
        if (n === 0) break;
        done += n;
      }
      source.bytesRead += done;
      return buf.subarray(0, done);
    },
  };
  return source;
}

/**
 * The most the reader takes into memory for the section header table, the section-name table or one section: far
 * above any real module's (a few KiB to a few hundred KiB), far below the 512 MiB a hostile mirror may serve.
 */
export const MAX_TABLE_BYTES = 8 * 1024 * 1024;

class Reader {
  constructor(
    private readonly buf: Buffer,
    private readonly le: boolean,
    private readonly bits: 32 | 64,
  ) {}

  u16(at: number): number {
    this.need(at, 2);
    return this.le ? this.buf.readUInt16LE(at) : this.buf.readUInt16BE(at);
  }

  u32(at: number): number {
    this.need(at, 4);
    return this.le ? this.buf.readUInt32LE(at) : this.buf.readUInt32BE(at);
  }

  /** An address/offset/size field: 4 bytes in ELF32, 8 in ELF64. */
  word(at: number): number {
    if (this.bits === 32) return this.u32(at);
    this.need(at, 8);
    const value = this.le ? this.buf.readBigUInt64LE(at) : this.buf.readBigUInt64BE(at);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfError('an offset or size is out of range');
    return Number(value);
  }

  need(at: number, length: number): void {
    if (at < 0 || at + length > this.buf.length) throw new ElfError('the file is truncated');
  }
}

/** Field offsets that differ between ELF32 and ELF64 (System V gABI). */
const LAYOUT = {
  32: { header: 52, shoff: 32, shentsize: 46, shnum: 48, shstrndx: 50, sh: 40, shOffset: 16, shSize: 20, shLink: 24 },
  64: { header: 64, shoff: 40, shentsize: 58, shnum: 60, shstrndx: 62, sh: 64, shOffset: 24, shSize: 32, shLink: 40 },
} as const;

/** `length` bytes at `at`, all inside the file and under MAX_TABLE_BYTES, else ElfError naming `what`. */
function readRange(src: ByteSource, at: number, length: number, what: string): Buffer {
  if (at < 0 || length < 0 || at + length > src.size) throw new ElfError(`the ${what} lies outside the file`);
  if (length > MAX_TABLE_BYTES) throw new ElfError(`the ${what} is implausibly large (${length} bytes)`);
  return src.read(at, length);
}

export function readElf(input: Buffer | ByteSource): ElfInfo {
  const src = Buffer.isBuffer(input) ? bufferSource(input) : input;
  const head = src.read(0, 64);
  if (!isElf(head)) throw new ElfError('not an ELF file');
  const cls = head[4];
  const enc = head[5];
  if (cls !== 1 && cls !== 2) throw new ElfError(`unknown ELF class ${String(cls)}`);
  if (enc !== 1 && enc !== 2) throw new ElfError(`unknown ELF data encoding ${String(enc)}`);
  const bits = cls === 1 ? 32 : 64;
  const le = enc === 1;
  const L = LAYOUT[bits];
  const h = new Reader(head, le, bits);
  if (head.length < L.header) throw new ElfError('the file is truncated');
  const type = h.u16(16);
  const machine = h.u16(18);
  const shoff = h.word(L.shoff);
  const shentsize = h.u16(L.shentsize);
  let shnum = h.u16(L.shnum);
  let shstrndx = h.u16(L.shstrndx);
  if (shoff === 0) return { bits, littleEndian: le, type, machine, sections: [] };
  if (shentsize < L.sh) throw new ElfError(`section header size ${shentsize} is too small`);
  // Extended numbering: with 0xff00+ sections the real count/index live in section 0 (gABI "Extended Section Indexes").
  if (shnum === 0 || shstrndx === SHN_XINDEX) {
    const zero = new Reader(readRange(src, shoff, L.sh, 'section header table'), le, bits);
    if (shnum === 0) shnum = zero.word(L.shSize);
    if (shstrndx === SHN_XINDEX) shstrndx = zero.u32(L.shLink);
  }
  // The whole table must lie inside the file: a truncated download (valid header only) is refused here (issue #13).
  const table = new Reader(readRange(src, shoff, shnum * shentsize, 'section header table'), le, bits);
  const raw = Array.from({ length: shnum }, (_, i) => {
    const at = i * shentsize;
    return {
      nameAt: table.u32(at),
      type: table.u32(at + 4),
      offset: table.word(at + L.shOffset),
      size: table.word(at + L.shSize),
    };
  });
  for (const s of raw) {
    if (s.type !== SHT_NOBITS && s.offset + s.size > src.size) throw new ElfError('the file is truncated');
  }
  const strtab = raw[shstrndx];
  const names =
    strtab === undefined || strtab.type === SHT_NOBITS
      ? undefined
      : readRange(src, strtab.offset, strtab.size, 'section name table');
  const sections = raw.map((s) => ({
    name: names === undefined ? '' : cString(names, s.nameAt),
    type: s.type,
    offset: s.offset,
    size: s.size,
  }));
  return { bits, littleEndian: le, type, machine, sections };
}

function cString(table: Buffer, at: number): string {
  if (at >= table.length) throw new ElfError('a section name is out of range');
  const end = table.indexOf(0, at);
  return table.subarray(at, end < 0 ? table.length : end).toString('latin1');
}

/** The named section's bytes (read from the source: only that section), or undefined when absent or empty-typed. */
export function sectionData(input: Buffer | ByteSource, info: ElfInfo, name: string): Buffer | undefined {
  const section = info.sections.find((s) => s.name === name);
  if (section === undefined || section.type === SHT_NOBITS) return undefined;
  const src = Buffer.isBuffer(input) ? bufferSource(input) : input;
  return readRange(src, section.offset, section.size, `${name} section`);
}

/**
 * `.modinfo` is a run of NUL-terminated `key=value` strings (padding NULs between them). Keys may repeat
 * (`alias`, `parm`), so all pairs are kept in order; `modinfoValue` gives the first.
 */
export function parseModinfo(section: Buffer): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  // UTF-8, as Node decodes uname(2): a non-ASCII kernel release must compare equal to its own vermagic (issue #8).
  for (const item of section.toString('utf8').split('\0')) {
    const eq = item.indexOf('=');
    if (eq > 0) pairs.push([item.slice(0, eq), item.slice(eq + 1)]);
  }
  return pairs;
}

export function modinfoValue(pairs: ReadonlyArray<readonly [string, string]>, key: string): string | undefined {
  return pairs.find(([k]) => k === key)?.[1];
}

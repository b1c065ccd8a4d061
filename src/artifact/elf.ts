/**
 * A small, bounds-checked ELF reader: enough to tell whether a file is a kernel module (or an eBPF object) for this
 * machine before handing it to the kernel (issue #3), without spawning `modinfo`/`readelf`, which minimal images lack.
 * It reads the header, the section headers and their names; nothing is executed or relocated.
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
  32: { shoff: 32, shentsize: 46, shnum: 48, shstrndx: 50, sh: 40, shOffset: 16, shSize: 20, shLink: 24 },
  64: { shoff: 40, shentsize: 58, shnum: 60, shstrndx: 62, sh: 64, shOffset: 24, shSize: 32, shLink: 40 },
} as const;

export function readElf(data: Buffer): ElfInfo {
  if (!isElf(data)) throw new ElfError('not an ELF file');
  const cls = data[4];
  const enc = data[5];
  if (cls !== 1 && cls !== 2) throw new ElfError(`unknown ELF class ${String(cls)}`);
  if (enc !== 1 && enc !== 2) throw new ElfError(`unknown ELF data encoding ${String(enc)}`);
  const bits = cls === 1 ? 32 : 64;
  const r = new Reader(data, enc === 1, bits);
  const L = LAYOUT[bits];
  const type = r.u16(16);
  const machine = r.u16(18);
  const shoff = r.word(L.shoff);
  const shentsize = r.u16(L.shentsize);
  let shnum = r.u16(L.shnum);
  let shstrndx = r.u16(L.shstrndx);
  if (shoff === 0) return { bits, littleEndian: enc === 1, type, machine, sections: [] };
  if (shentsize < L.sh) throw new ElfError(`section header size ${shentsize} is too small`);
  // Extended numbering: with 0xff00+ sections the real count/index live in section 0 (gABI "Extended Section Indexes").
  if (shnum === 0) shnum = r.word(shoff + L.shSize);
  if (shstrndx === SHN_XINDEX) shstrndx = r.u32(shoff + L.shLink);
  r.need(shoff, shnum * shentsize);

  const raw = Array.from({ length: shnum }, (_, i) => {
    const at = shoff + i * shentsize;
    return { nameAt: r.u32(at), type: r.u32(at + 4), offset: r.word(at + L.shOffset), size: r.word(at + L.shSize) };
  });
  const strtab = raw[shstrndx];
  const sections = raw.map((s) => {
    if (s.type !== SHT_NOBITS) r.need(s.offset, s.size);
    return {
      name: strtab === undefined ? '' : cString(data, strtab, s.nameAt),
      type: s.type,
      offset: s.offset,
      size: s.size,
    };
  });
  return { bits, littleEndian: enc === 1, type, machine, sections };
}

function cString(data: Buffer, table: { offset: number; size: number }, at: number): string {
  if (at >= table.size) throw new ElfError('a section name is out of range');
  const start = table.offset + at;
  const end = data.indexOf(0, start);
  const stop = end < 0 || end > table.offset + table.size ? table.offset + table.size : end;
  return data.subarray(start, stop).toString('latin1');
}

export function sectionData(data: Buffer, info: ElfInfo, name: string): Buffer | undefined {
  const section = info.sections.find((s) => s.name === name);
  if (section === undefined || section.type === SHT_NOBITS) return undefined;
  return data.subarray(section.offset, section.offset + section.size);
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

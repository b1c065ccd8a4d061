import { open } from 'node:fs/promises';

/** EM_BPF: the only machine a legacy eBPF probe object may be built for. */
const EM_BPF = 247;

/**
 * Why a file cannot be the eBPF probe, or undefined when it can: it must be an ELF object for the BPF machine
 * (issue #4) whose section table lies inside the file (issue #13: a bare 64-byte header was accepted, cached and
 * reused on every run). Catches HTML error pages served with status 200, truncated files and kernel modules under
 * the wrong name.
 */
export async function bpfObjectProblem(file: string): Promise<string | undefined> {
  let head: Buffer;
  let size: number;
  try {
    const handle = await open(file, 'r');
    try {
      size = (await handle.stat()).size;
      head = Buffer.alloc(64);
      const { bytesRead } = await handle.read(head, 0, 64, 0);
      head = head.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (error) {
    return `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
  if (head.length < 20 || head.readUInt32BE(0) !== 0x7f454c46) {
    const text = head.toString('latin1').trimStart().toLowerCase();
    if (text.startsWith('<')) return 'it is an HTML/XML page, not an eBPF object (an error page served as a file?)';
    return head.length === 0 ? 'it is empty' : 'it is not an ELF file';
  }
  const littleEndian = head[5] === 1;
  const machine = littleEndian ? head.readUInt16LE(18) : head.readUInt16BE(18);
  if (machine !== EM_BPF) return `it is an ELF file for machine ${machine}, not an eBPF object (machine ${EM_BPF})`;
  return sectionTableProblem(head, size, littleEndian);
}

/** The section header table (e_shoff, e_shentsize × e_shnum) must exist and end inside the file. */
function sectionTableProblem(head: Buffer, size: number, le: boolean): string | undefined {
  const is64 = head[4] === 2;
  if (head.length < (is64 ? 64 : 52)) return `it is truncated (${size} bytes, shorter than an ELF header)`;
  const u16 = (at: number) => (le ? head.readUInt16LE(at) : head.readUInt16BE(at));
  const shoff = is64
    ? Number(le ? head.readBigUInt64LE(40) : head.readBigUInt64BE(40))
    : le
      ? head.readUInt32LE(32)
      : head.readUInt32BE(32);
  const shentsize = u16(is64 ? 58 : 46);
  const shnum = u16(is64 ? 60 : 48);
  if (shoff === 0 || shnum === 0) return 'it has no section table (a truncated or empty object)';
  if (shentsize !== (is64 ? 64 : 40)) return `its section headers are ${shentsize} bytes, not ${is64 ? 64 : 40}`;
  const end = shoff + shentsize * shnum;
  if (end > size) return `it is truncated: its section table ends at byte ${end}, but the file has ${size} bytes`;
  return undefined;
}

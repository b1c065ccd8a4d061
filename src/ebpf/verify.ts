import { closeSync, fstatSync, openSync } from 'node:fs';
import { ElfError, EM, fileSource, readElf } from '../artifact/elf.js';

/**
 * Why a file cannot be the eBPF probe, or undefined when it can: it must be an ELF object for the BPF machine
 * (issue #4) whose section table and section names lie inside the file (a download cut after the header is refused:
 * issue #13 finding 7). Catches HTML error pages served with status 200, truncated files and kernel modules under the
 * wrong name. Reads the header, the section table and the name table at their positions (issue #17): kilobytes,
 * whatever the file's size.
 */
export async function bpfObjectProblem(file: string): Promise<string | undefined> {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    return `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
  try {
    const src = fileSource(fd, fstatSync(fd).size);
    const head = src.read(0, 64);
    if (head.length < 20 || head.readUInt32BE(0) !== 0x7f454c46) {
      const text = head.toString('latin1').trimStart().toLowerCase();
      if (text.startsWith('<')) return 'it is an HTML/XML page, not an eBPF object (an error page served as a file?)';
      return head.length === 0 ? 'it is empty' : 'it is not an ELF file';
    }
    const littleEndian = head[5] === 1;
    const machine = littleEndian ? head.readUInt16LE(18) : head.readUInt16BE(18);
    if (machine !== EM.BPF) return `it is an ELF file for machine ${machine}, not an eBPF object (machine ${EM.BPF})`;
    const elf = readElf(src);
    if (elf.sections.length < 2) return 'it is an ELF header without sections (a truncated download?)';
    return undefined;
  } catch (error) {
    if (error instanceof ElfError) return `it is a damaged ELF file (${error.message})`;
    return `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  } finally {
    closeSync(fd);
  }
}

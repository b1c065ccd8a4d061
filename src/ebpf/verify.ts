import { open } from 'node:fs/promises';

/** EM_BPF: the only machine a legacy eBPF probe object may be built for. */
const EM_BPF = 247;

/**
 * Why a file cannot be the eBPF probe, or undefined when it can: it must be an ELF object for the BPF machine
 * (issue #4). Catches HTML error pages served with status 200, truncated files and kernel modules under the wrong name.
 */
export async function bpfObjectProblem(file: string): Promise<string | undefined> {
  let head: Buffer;
  try {
    const handle = await open(file, 'r');
    try {
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
  return undefined;
}

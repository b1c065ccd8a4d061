import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileSource, readElf } from '../../src/artifact/elf.js';
import { bpfObjectProblem } from '../../src/ebpf/verify.js';
import { checkModuleFile, checkModuleSource } from '../../src/kmod/verify.js';
import { elfObject } from '../ebpf/fixtures.js';
import { tempDir } from '../helpers/tmp.js';
import { moduleFor } from '../kmod/modules.js';

/**
 * Issue #17: the validators read the header, the section table and a few sections at their positions, never the
 * whole file. Each case is a 256 MiB sparse file (no disk used) whose sections sit at its far end, so a reader that
 * slurped the file, or streamed through it, would read ~256 MiB.
 */
const SIZE = 256 * 1024 * 1024;
const BOUND = 64 * 1024;
const X86 = { arch: 'x86_64', kernelRelease: '6.1.0-13-amd64' };

/** `elf` with everything after its 64-byte header moved `gap` bytes further into the file (offsets patched). */
function writeSpreadOut(file: string, elf: Buffer, size: number): void {
  const info = readElf(elf);
  const gap = size - elf.length;
  const out = Buffer.from(elf);
  const shoff = Number(out.readBigUInt64LE(40));
  out.writeBigUInt64LE(BigInt(shoff + gap), 40);
  info.sections.forEach((s, i) => {
    if (s.offset !== 0) out.writeBigUInt64LE(BigInt(s.offset + gap), shoff + i * 64 + 24);
  });
  const fd = openSync(file, 'wx');
  try {
    writeSync(fd, out, 0, 64, 0);
    writeSync(fd, out, 64, out.length - 64, 64 + gap);
  } finally {
    closeSync(fd);
  }
}

/** Bytes this process has read through read(2)/pread(2) so far (Linux /proc/self/io rchar). */
function bytesReadByProcess(): number {
  return Number(/^rchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1]);
}

describe.runIf(process.platform === 'linux' && process.arch === 'x64')('validators on a 256 MiB file', () => {
  it('a kernel module is checked with a bounded number of bytes read', async () => {
    const file = path.join(tempDir(), 'falco.ko');
    writeSpreadOut(file, readFileSync(moduleFor(X86.kernelRelease)), SIZE);
    const fd = openSync(file, 'r');
    try {
      const src = fileSource(fd, SIZE);
      expect(checkModuleSource(src, X86)).toBeUndefined();
      expect(src.bytesRead).toBeGreaterThan(0);
      expect(src.bytesRead).toBeLessThan(BOUND);
    } finally {
      closeSync(fd);
    }
    // The same through the file API the flows call, counted by the kernel this time.
    const before = bytesReadByProcess();
    expect(await checkModuleFile(file, X86, undefined)).toBeUndefined();
    expect(await checkModuleFile(file, { ...X86, kernelRelease: '6.1.0-12-amd64' }, undefined)).toMatch(/^built for/);
    expect(bytesReadByProcess() - before).toBeLessThan(4 * BOUND);
  });

  it('an eBPF probe is checked with a bounded number of bytes read', async () => {
    const file = path.join(tempDir(), 'probe.o');
    writeSpreadOut(file, elfObject(247), SIZE);
    const before = bytesReadByProcess();
    expect(await bpfObjectProblem(file)).toBeUndefined();
    expect(bytesReadByProcess() - before).toBeLessThan(2 * BOUND);
  });
});

describe('eBPF probe structure', () => {
  it('refuses a probe cut after its header, and one whose section table runs past the end', async () => {
    const dir = tempDir();
    const whole = elfObject(247);
    const headerOnly = path.join(dir, 'header.o');
    const cut = path.join(dir, 'cut.o');
    const fine = path.join(dir, 'fine.o');
    const write = (file: string, data: Buffer) => {
      const fd = openSync(file, 'wx');
      writeSync(fd, data);
      closeSync(fd);
    };
    write(headerOnly, whole.subarray(0, 64));
    write(cut, whole.subarray(0, whole.length - 10));
    write(fine, whole);
    expect(await bpfObjectProblem(headerOnly)).toBe(
      'it is a damaged ELF file (the section header table lies outside the file)',
    );
    expect(await bpfObjectProblem(cut)).toBe(
      'it is a damaged ELF file (the section header table lies outside the file)',
    );
    expect(await bpfObjectProblem(fine)).toBeUndefined();
  });
});

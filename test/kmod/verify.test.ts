import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ElfError, EM, modinfoValue, parseModinfo, readElf, sectionData } from '../../src/artifact/elf.js';
import { checkModuleBytes, checkModuleFile, compressionOf, vermagicMismatch } from '../../src/kmod/verify.js';
import { tempDir } from '../helpers/tmp.js';
import { buildModule, moduleFor } from './modules.js';

const X86 = { arch: 'x86_64', kernelRelease: '6.1.0-13-amd64' };

describe('ELF reader', () => {
  it('reads class, type, machine and .modinfo of a gcc-built object', () => {
    const data = readFileSync(buildModule({ vermagic: '6.1.0-13-amd64 SMP ', version: '6.0.1+driver' }));
    const elf = readElf(data);
    expect(elf).toMatchObject({ bits: 64, littleEndian: true, type: 1, machine: EM.X86_64 });
    const modinfo = parseModinfo(sectionData(data, elf, '.modinfo') ?? Buffer.alloc(0));
    expect(modinfoValue(modinfo, 'vermagic')).toBe('6.1.0-13-amd64 SMP ');
    expect(modinfoValue(modinfo, 'version')).toBe('6.0.1+driver');
  });

  it('keeps repeated keys in order', () => {
    expect(parseModinfo(Buffer.from('alias=a\0\0\0alias=b\0license=GPL\0'))).toEqual([
      ['alias', 'a'],
      ['alias', 'b'],
      ['license', 'GPL'],
    ]);
  });

  it('refuses truncated files instead of reading past the end', () => {
    const data = readFileSync(moduleFor('6.1.0-13-amd64'));
    expect(() => readElf(data.subarray(0, data.length - 100))).toThrow(ElfError);
    expect(() => readElf(data.subarray(0, 30))).toThrow(/truncated/);
  });
});

describe('checkModuleBytes', () => {
  const good = () => readFileSync(moduleFor('6.1.0-13-amd64'));

  it('accepts a module for this kernel and machine', () => {
    expect(checkModuleBytes(good(), X86)).toBeUndefined();
  });

  it.each([
    [
      'an HTML page',
      Buffer.from('<!DOCTYPE html><html><body>Not here</body></html>'),
      'an HTML error page served with status 200',
    ],
    ['an HTML page after whitespace', Buffer.from('\n  <html>oops'), 'an HTML error page served with status 200'],
    ['plain text', Buffer.from('AccessDenied'), 'not an ELF file'],
    ['nothing', Buffer.alloc(0), 'an empty file'],
  ])('rejects %s', (_name, data, reason) => {
    expect(checkModuleBytes(data, X86)).toBe(reason);
  });

  it('rejects a module for another kernel, naming both releases', () => {
    const data = readFileSync(moduleFor('6.1.0-12-amd64'));
    expect(checkModuleBytes(data, X86)).toBe('built for 6.1.0-12-amd64, this kernel is 6.1.0-13-amd64');
  });

  it('rejects a module for another machine', () => {
    expect(checkModuleBytes(good(), { ...X86, arch: 'aarch64' })).toBe('built for x86_64, this machine is aarch64');
    const arm = good();
    arm.writeUInt16LE(EM.AARCH64, 18);
    expect(checkModuleBytes(arm, X86)).toBe('built for aarch64, this machine is x86_64');
  });

  it('rejects an ELF file that is not relocatable, or has no .modinfo/vermagic', () => {
    const exec = good();
    exec.writeUInt16LE(2, 16);
    expect(checkModuleBytes(exec, X86)).toBe('an ELF file of type 2, not a relocatable kernel module');
    expect(checkModuleBytes(readFileSync(buildModule({})), X86)).toBe('no .modinfo section: not a kernel module');
    expect(checkModuleBytes(readFileSync(buildModule({ version: '1' })), X86)).toBe(
      'no vermagic in .modinfo: not a kernel module',
    );
  });

  it('reports a damaged ELF file', () => {
    expect(checkModuleBytes(good().subarray(0, 200), X86)).toMatch(/^a damaged ELF file \(/);
  });
});

describe('vermagicMismatch', () => {
  it.each([
    ['6.1.0-13-amd64 SMP mod_unload ', undefined],
    ['6.1.0-13-amd64', undefined],
    ['6.1.0-13-amd64-rt SMP', 'built for 6.1.0-13-amd64-rt, this kernel is 6.1.0-13-amd64'],
    ['6.1.0-13 SMP', 'built for 6.1.0-13, this kernel is 6.1.0-13-amd64'],
  ])('%s', (vermagic, expected) => {
    expect(vermagicMismatch(vermagic, '6.1.0-13-amd64')).toBe(expected);
  });
});

describe('checkModuleFile', () => {
  it('decompresses .ko.gz and skips .ko.xz/.ko.zst (insmod judges those itself)', async () => {
    const dir = tempDir();
    const wrong = readFileSync(moduleFor('5.10.0-1-amd64'));
    const gz = path.join(dir, 'falco.ko.gz');
    writeFileSync(gz, gzipSync(wrong));
    expect(await checkModuleFile(gz, X86, compressionOf(gz))).toBe(
      'built for 5.10.0-1-amd64, this kernel is 6.1.0-13-amd64',
    );
    const xz = path.join(dir, 'falco.ko.xz');
    writeFileSync(xz, 'not really xz');
    expect(await checkModuleFile(xz, X86, compressionOf(xz))).toBeUndefined();
    expect(compressionOf('/x/falco.ko.zst')).toBe('zst');
    expect(compressionOf('/x/falco.ko')).toBeUndefined();
  });

  it('says when the file cannot be read', async () => {
    expect(await checkModuleFile('/nonexistent/falco.ko', X86, undefined)).toMatch(/^cannot be read \(ENOENT/);
  });
});

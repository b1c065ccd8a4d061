import { execFileSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { type ReadModule, readModule } from '../../src/sign/decompress.js';
import { tempDir } from '../helpers/tmp.js';
import { moduleFor } from '../kmod/modules.js';
import { hostProgram, skipNote } from './keys.js';

const xz = hostProgram('xz');
const zstd = hostProgram('zstd');

function compressed(kind: 'xz' | 'zst'): { raw: Buffer; file: string } {
  const dir = tempDir();
  const raw = readFileSync(moduleFor('6.1.0-13-amd64'));
  const plain = path.join(dir, 'falco.ko');
  writeFileSync(plain, raw);
  if (kind === 'xz') execFileSync(xz as string, ['-z', '-k', plain]);
  else execFileSync(zstd as string, ['-q', '-k', plain]);
  return { raw, file: `${plain}.${kind}` };
}

/** The bytes of the uncompressed file readModule() points at, read after the call and released. */
function bytesOf(result: ReadModule): Buffer | { problem: string } {
  if ('problem' in result) return { problem: result.problem };
  try {
    return readFileSync(result.file);
  } finally {
    result.release();
  }
}

describe('reading compressed modules before signing', () => {
  it('.ko is read as is; .ko.gz with zlib', async () => {
    const dir = tempDir();
    const raw = readFileSync(moduleFor('6.1.0-13-amd64'));
    const gz = path.join(dir, 'falco.ko.gz');
    writeFileSync(gz, gzipSync(raw));
    expect(bytesOf(await readModule(gz, dir, { PATH: '' }))).toEqual(raw);
    expect(readdirSync(dir)).toEqual(['falco.ko.gz']);
    const plain = path.join(dir, 'falco.ko');
    writeFileSync(plain, raw);
    const same = await readModule(plain, dir, { PATH: '' });
    expect('file' in same && same.file).toBe(plain);
    expect(bytesOf(same)).toEqual(raw);
    expect(readFileSync(plain)).toEqual(raw);
  });

  it('a damaged .ko.gz is one line', async () => {
    const dir = tempDir();
    const gz = path.join(dir, 'falco.ko.gz');
    writeFileSync(gz, 'not gzip');
    const result = await readModule(gz, dir, { PATH: '' });
    expect('problem' in result && result.problem).toMatch(/^cannot read .*falco\.ko\.gz \(incorrect header check\)$/);
  });

  it.each([
    ['xz', 'xz-utils'],
    ['zst', 'zstd'],
  ] as const)('.ko.%s without its program: says it cannot be decompressed here', async (kind, pkg) => {
    const dir = tempDir();
    const file = path.join(dir, `falco.ko.${kind}`);
    writeFileSync(file, 'whatever');
    const program = kind === 'xz' ? 'xz' : 'zstd';
    expect(await readModule(file, dir, { PATH: tempDir() })).toEqual({
      problem: `cannot decompress ${file} to sign it: ${program} is not on PATH (install ${pkg})`,
    });
  });

  it.runIf(xz !== undefined)(
    '.ko.xz with xz: a copy is decompressed in the work dir, the original untouched',
    async () => {
      const { raw, file } = compressed('xz');
      const before = readFileSync(file);
      const work = tempDir();
      expect(bytesOf(await readModule(file, work, { PATH: path.dirname(xz as string) }))).toEqual(raw);
      expect(readFileSync(file).equals(before)).toBe(true);
      expect(readdirSync(work)).toEqual([]);
    },
  );

  it.runIf(zstd !== undefined)('.ko.zst with zstd', async () => {
    const { raw, file } = compressed('zst');
    const work = tempDir();
    expect(bytesOf(await readModule(file, work, { PATH: path.dirname(zstd as string) }))).toEqual(raw);
    expect(readdirSync(work)).toEqual([]);
  });

  it.runIf(xz !== undefined)('a damaged .ko.xz: the program says why, in one line', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'falco.ko.xz');
    copyFileSync(moduleFor('6.1.0-13-amd64'), file);
    const result = await readModule(file, dir, { PATH: path.dirname(xz as string) });
    expect('problem' in result && result.problem).toMatch(/^cannot decompress .*falco\.ko\.xz with .*xz: .*format/);
  });
});
if (xz === undefined) skipNote('.ko.xz decompression', 'xz is not installed');
if (zstd === undefined) skipNote('.ko.zst decompression', 'zstd is not installed');

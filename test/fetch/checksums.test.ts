import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { downloadVerified, formatSums, parseSums, sha256File, sumsUrlFor } from '../../src/fetch/checksums.js';
import { startServer } from '../helpers/httpServer.js';
import { tempDir, writeTree } from '../helpers/tmp.js';
import { FAST, FAST_OPTIONS } from './helpers.js';

const BODY = Buffer.from('a driver file\n');
const DIGEST = createHash('sha256').update(BODY).digest('hex');
const FILE = 'falco_test_1.ko';

describe('SHA256SUMS parsing', () => {
  it('reads sha256sum text and binary lines, lower-cases digests and ignores everything else', () => {
    const upper = 'A'.repeat(64);
    const sums = parseSums(`${DIGEST}  ${FILE}\n${upper} *other+file.o\r\nnot a line\n${'b'.repeat(63)}  short\n`);
    expect([...sums.entries()]).toEqual([
      [FILE, DIGEST],
      ['other+file.o', 'a'.repeat(64)],
    ]);
    expect(parseSums(formatSums(sums))).toEqual(sums);
    expect(formatSums(sums)).toBe(`${DIGEST}  ${FILE}\n${'a'.repeat(64)}  other+file.o\n`);
  });

  it('the sums file sits in the directory of the file, encoded path and credentials kept', () => {
    expect(sumsUrlFor('https://u:p@h.example/d/7.0.0%2Bdriver/x86_64/falco_a%2Bb_1.ko')).toBe(
      'https://u:p@h.example/d/7.0.0%2Bdriver/x86_64/SHA256SUMS',
    );
    expect(sumsUrlFor('file:///srv/m/7.0.0%2Bdriver/x86_64/x.ko')).toBe(
      'file:///srv/m/7.0.0%2Bdriver/x86_64/SHA256SUMS',
    );
  });

  it('sha256File is the digest of the bytes', async () => {
    const dir = tempDir();
    writeTree(dir, { f: BODY.toString() });
    expect(await sha256File(path.join(dir, 'f'))).toBe(DIGEST);
  });
});

async function repo(sums: string | undefined) {
  return startServer((req, res) => {
    if (req.url === `/7.0.0%2Bdriver/x86_64/${FILE}`) res.writeHead(200).end(BODY);
    else if (req.url === '/7.0.0%2Bdriver/x86_64/SHA256SUMS' && sums !== undefined) res.writeHead(200).end(sums);
    else res.writeHead(404).end();
  });
}

async function fetchVerified(origin: string, required: boolean) {
  const dir = tempDir();
  const destination = path.join(dir, 'cache', FILE);
  const log: string[] = [];
  const result = await downloadVerified(
    { url: `${origin}/7.0.0%2Bdriver/x86_64/${FILE}`, destination, log: (l) => log.push(l) },
    FAST,
    FAST_OPTIONS,
    { required, tmpdir: dir },
  );
  const left = readdirSync(dir).filter((e) => e !== 'cache');
  return { result, log, destination, left };
}

describe('downloadVerified', () => {
  it('a matching checksum: kept, and the log says against which file', async () => {
    const server = await repo(`${DIGEST}  ${FILE}\n`);
    const { result, log, destination, left } = await fetchVerified(server.origin, true);
    expect(result).toEqual({ ok: true, bytes: BODY.length, sha256: DIGEST }); // hashed while it arrived
    expect(readFileSync(destination)).toEqual(BODY);
    expect(log).toContain(`* SHA256 checksum verified against ${server.origin}/7.0.0%2Bdriver/x86_64/SHA256SUMS`);
    expect(left).toEqual([]); // the sums' temp dir is gone
  });

  it('a mismatch: refused in one line, nothing cached', async () => {
    const server = await repo(`${'0'.repeat(64)}  ${FILE}\n`);
    const { result, destination } = await fetchVerified(server.origin, false);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.kind).toBe('invalid');
    expect(result.reason).toBe(
      `SHA256 mismatch for ${FILE}: got ${DIGEST}, ${server.origin}/7.0.0%2Bdriver/x86_64/SHA256SUMS says ${'0'.repeat(64)}; not kept, trying the next source`,
    );
    expect(existsSync(destination)).toBe(false);
    expect(readdirSync(path.dirname(destination))).toEqual([]);
  });

  it('no SHA256SUMS: accepted unverified by default, refused when required', async () => {
    const server = await repo(undefined);
    const lax = await fetchVerified(server.origin, false);
    expect(lax.result.ok).toBe(true);
    expect(lax.log.some((l) => l.includes('SHA256'))).toBe(false);
    const strict = await fetchVerified(server.origin, true);
    expect(strict.result).toEqual({
      ok: false,
      kind: 'invalid',
      reason: `no checksum for this file at ${server.origin}/7.0.0%2Bdriver/x86_64/SHA256SUMS (HTTP 404 Not Found) and FALCO_DRIVER_LOADER_REQUIRE_CHECKSUM requires one; not kept`,
    });
    expect(existsSync(strict.destination)).toBe(false);
  });

  it('a SHA256SUMS without a line for the file counts as absent', async () => {
    const server = await repo(`${DIGEST}  some_other_file.ko\n`);
    const strict = await fetchVerified(server.origin, true);
    expect(strict.result.ok).toBe(false);
    if (!strict.result.ok) expect(strict.result.reason).toContain(`(it has no line for ${FILE})`);
    expect((await fetchVerified(server.origin, false)).result.ok).toBe(true);
  });
});

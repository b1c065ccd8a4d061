import { randomBytes } from 'node:crypto';
import { copyFileSync, createReadStream, createWriteStream, rmSync } from 'node:fs';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { compressionOf } from '../kmod/verify.js';
import { run, which } from '../system/exec.js';

const MAX_MODULE_BYTES = 512 * 1024 * 1024;

/** The programs for the formats Node 20's zlib cannot read, and their Debian packages for the error line. */
const TOOLS = {
  xz: { program: 'xz', args: ['-d', '-q', '-f', '--'], pkg: 'xz-utils' },
  zst: { program: 'zstd', args: ['-d', '-q', '-f', '--rm', '--'], pkg: 'zstd' },
} as const;

/** `file` holds the uncompressed module; `release()` removes it when it is a decompressed copy. */
export type ReadModule = { readonly file: string; release(): void } | { readonly problem: string };

/**
 * Where a module's uncompressed bytes are, as a file (issue #17: never in memory): a signature goes on the ELF file,
 * inside the compression, so a `.ko.gz|xz|zst` (what DKMS leaves when the kernel's own modules are compressed) is
 * decompressed first, into `workDir` (the original under /var/lib/dkms is never touched). gzip with zlib, as a
 * stream; xz and zstd with their programs on PATH, working on a copy.
 */
export async function readModule(
  file: string,
  workDir: string,
  env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
): Promise<ReadModule> {
  const compression = compressionOf(file);
  if (compression === undefined) return { file, release: () => undefined };
  const stem = path.join(workDir, `.${path.basename(file)}.${process.pid}-${randomBytes(6).toString('hex')}`);
  if (compression === 'gz') {
    const out = `${stem}.ko`;
    try {
      await pipeline(
        createReadStream(file),
        createGunzip(),
        atMost(MAX_MODULE_BYTES),
        createWriteStream(out, { flags: 'wx', mode: 0o600 }),
        ...(signal === undefined ? [] : [{ signal }]),
      );
      return { file: out, release: () => rmSync(out, { force: true }) };
    } catch (error) {
      rmSync(out, { force: true });
      signal?.throwIfAborted();
      return { problem: `cannot read ${file} (${(error as Error).message})` };
    }
  }
  const tool = TOOLS[compression];
  const program = which(tool.program, env);
  if (program === undefined) {
    return {
      problem: `cannot decompress ${file} to sign it: ${tool.program} is not on PATH (install ${tool.pkg})`,
    };
  }
  const copy = `${stem}.ko.${compression}`;
  const out = `${stem}.ko`;
  let kept = false;
  try {
    copyFileSync(file, copy);
    const result = await run(program, [...tool.args, copy], {
      env,
      timeoutMs: 120_000,
      ...(signal === undefined ? {} : { signal }),
    });
    if (result.exitCode !== 0 || result.failure !== undefined) {
      const said = (result.failure ?? result.stderr).trim().split('\n').at(-1) ?? '';
      return { problem: `cannot decompress ${file} with ${program}${said === '' ? '' : `: ${said}`}` };
    }
    kept = true;
    return { file: out, release: () => rmSync(out, { force: true }) };
  } catch (error) {
    signal?.throwIfAborted();
    return { problem: `cannot decompress ${file} (${(error as Error).message})` };
  } finally {
    rmSync(copy, { force: true });
    if (!kept) rmSync(out, { force: true });
  }
}

/** Fails the stream past `max` bytes: a gzip bomb stops there instead of filling the disk. */
function atMost(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      done(seen > max ? new Error(`it decompresses to more than ${max} bytes`) : null, chunk);
    },
  });
}

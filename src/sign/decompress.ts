import { randomBytes } from 'node:crypto';
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { compressionOf } from '../kmod/verify.js';
import { run, which } from '../system/exec.js';

const MAX_MODULE_BYTES = 512 * 1024 * 1024;

/** The programs for the formats Node 20's zlib cannot read, and their Debian packages for the error line. */
const TOOLS = {
  xz: { program: 'xz', args: ['-d', '-q', '-f', '--'], pkg: 'xz-utils' },
  zst: { program: 'zstd', args: ['-d', '-q', '-f', '--rm', '--'], pkg: 'zstd' },
} as const;

export type ReadModule = { readonly data: Buffer } | { readonly problem: string };

/**
 * A module's uncompressed bytes: a signature goes on the ELF file, inside the compression, so a `.ko.gz|xz|zst`
 * (what DKMS leaves when the kernel's own modules are compressed) is decompressed first. gzip with zlib; xz and
 * zstd with their programs on PATH, working on a copy in `workDir` (the original under /var/lib/dkms is never
 * touched) because run() captures text, not bytes.
 */
export async function readModule(
  file: string,
  workDir: string,
  env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
): Promise<ReadModule> {
  const compression = compressionOf(file);
  try {
    if (compression === undefined) return { data: readFileSync(file) };
    if (compression === 'gz') {
      return { data: await promisify(gunzip)(readFileSync(file), { maxOutputLength: MAX_MODULE_BYTES }) };
    }
  } catch (error) {
    return { problem: `cannot read ${file} (${(error as Error).message})` };
  }
  const tool = TOOLS[compression];
  const program = which(tool.program, env);
  if (program === undefined) {
    return {
      problem: `cannot decompress ${file} to sign it: ${tool.program} is not on PATH (install ${tool.pkg})`,
    };
  }
  const copy = path.join(
    workDir,
    `.${path.basename(file)}.${process.pid}-${randomBytes(6).toString('hex')}.ko.${compression}`,
  );
  const out = copy.slice(0, -(compression.length + 1));
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
    return { data: readFileSync(out) };
  } catch (error) {
    signal?.throwIfAborted();
    return { problem: `cannot decompress ${file} (${(error as Error).message})` };
  } finally {
    rmSync(copy, { force: true });
    rmSync(out, { force: true });
  }
}

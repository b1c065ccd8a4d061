import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, sharedDir } from './helpers/paths.js';
import { baseEnv, fakePlatform, runCli, runMain } from './helpers/run.js';
import { tempDir, writeTree } from './helpers/tmp.js';

interface Run {
  args: string[];
  env: Record<string, string>;
  exitCode: number;
  stdout: string;
}
interface Case {
  name: string;
  hostFiles: Record<string, string>;
  kernelRelease: string;
  kernelVersion: string;
  runs: Run[];
}

// Recorded from the real legacy 0.36.2 script; replayed as its `about` field says. The project keeps its own copy
// (a fresh clone passes its tests with nothing beside it); where shared/ sits beside the checkout, the copy must
// still be the same bytes.
const vectorsFile = path.join(repoRoot, 'test', 'fixtures', 'vectors', 'legacy-print-env.json');
const sharedVectorsFile = path.join(sharedDir, 'vectors', 'legacy-print-env.json');
const vectors = JSON.parse(readFileSync(vectorsFile, 'utf8')) as { about: string; cases: Case[] };

function envFor(c: Case, run: Run, hostRoot: string): NodeJS.ProcessEnv {
  return baseEnv({
    HOST_ROOT: hostRoot,
    HOME: hostRoot,
    DRIVER_KERNEL_RELEASE: c.kernelRelease,
    DRIVER_KERNEL_VERSION: c.kernelVersion,
    DRIVER_VERSION: '6.0.1+driver',
    FALCO_VERSION: '0.36.2',
    ...run.env,
  });
}

describe('legacy --print-env vectors', () => {
  it('has cases to replay', () => {
    expect(vectors.cases.length).toBeGreaterThanOrEqual(22);
  });

  it.runIf(existsSync(sharedVectorsFile))("is the same recording as shared/'s", () => {
    expect(readFileSync(vectorsFile, 'utf8')).toBe(readFileSync(sharedVectorsFile, 'utf8'));
  });

  for (const c of vectors.cases) {
    describe(c.name, () => {
      for (const run of c.runs) {
        it(`${[...run.args, '--print-env'].join(' ')} ${JSON.stringify(run.env)}`, async () => {
          const hostRoot = tempDir();
          writeTree(hostRoot, c.hostFiles);
          // The recording machine was x86_64; ARCH comes from the machine, which the in-process run fakes.
          const result = await runMain([...run.args, '--print-env'], envFor(c, run, hostRoot), fakePlatform());
          expect(result.stderr).toBe('');
          expect(result.stdout).toBe(run.stdout);
          expect(result.code).toBe(run.exitCode);
        });
      }

      it('the built CLI prints the same bytes as a real process', () => {
        const run = c.runs[0] as Run;
        const hostRoot = tempDir();
        writeTree(hostRoot, c.hostFiles);
        const result = runCli([...run.args, '--print-env'], envFor(c, run, hostRoot));
        const expected = run.stdout.replace(/^ARCH="x86_64"$/m, `ARCH="${os.machine()}"`);
        expect(result.stdout).toBe(expected);
        expect(result.code).toBe(run.exitCode);
      });
    });
  }
});

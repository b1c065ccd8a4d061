import { readFileSync } from 'node:fs';
import path from 'node:path';
import semverSatisfies from 'semver/functions/satisfies.js';
import { describe, expect, it } from 'vitest';
import { startServer } from '../helpers/httpServer.js';
import { repoRoot } from '../helpers/paths.js';
import { baseEnv, fakePlatform, runMain } from '../helpers/run.js';
import { binaryOf, envLines, plain, releases, Sandbox } from './harness.js';

/**
 * For every host of the legacy vectors (test/fixtures/vectors): what the real falcoctl names — `driver printenv`'s
 * TARGET_ID, FIXED_KERNEL_RELEASE, FIXED_KERNEL_VERSION, DRIVER_NAME, and the file its `driver install` asks the
 * repository for — against our --print-env for the same host root and kernel. Every disagreement must be a listed
 * known difference (README "falcoctl hand-off"), and every listed difference must still occur, for the releases its
 * range names: the list can neither hide a new disagreement nor outlive a fixed one.
 */
interface Case {
  name: string;
  hostFiles: Record<string, string>;
  kernelRelease: string;
  kernelVersion: string;
}
const cases = (
  JSON.parse(readFileSync(path.join(repoRoot, 'test', 'fixtures', 'vectors', 'legacy-print-env.json'), 'utf8')) as {
    cases: Case[];
  }
).cases;

type Field = 'target' | 'release' | 'version' | 'name' | 'file';
/** `<case>:<field>` → the falcoctl releases where ours and falcoctl's differ, and why. Mirrored in the README. */
const PLUS = "falcoctl reads a release with '+' as empty: 0.7.x names the file without it, 0.8.0 on finds no driver";
const UEK = 'falcoctl 0.8.0 on offers no kmod on UEK kernels (no supported driver found); legacy only skipped DKMS';
export const KNOWN: Record<string, { range: string; why: string }> = {
  'cos-105:file': { range: '*', why: PLUS },
  'cos-105:target': { range: '>=0.8.0', why: PLUS },
  'cos-105:release': { range: '>=0.8.0', why: PLUS },
  'cos-105:version': { range: '>=0.8.0', why: PLUS },
  'cos-105:name': { range: '>=0.8.0', why: PLUS },
  'undetermined:file': {
    range: '*',
    why: 'falcoctl never downloads for an undetermined target (it compiles, or fails)',
  },
  'oracle-8-uek:file': { range: '>=0.8.0', why: UEK },
  'oracle-8-uek:target': { range: '>=0.8.0', why: UEK },
  'oracle-8-uek:release': { range: '>=0.8.0', why: UEK },
  'oracle-8-uek:version': { range: '>=0.8.0', why: UEK },
  'oracle-8-uek:name': { range: '>=0.8.0', why: UEK },
};

async function ours(c: Case, hostRoot: string) {
  const env = baseEnv({
    HOST_ROOT: hostRoot,
    HOME: hostRoot,
    DRIVER_KERNEL_RELEASE: c.kernelRelease,
    DRIVER_KERNEL_VERSION: c.kernelVersion,
    DRIVER_VERSION: '6.0.1+driver',
    FALCO_DRIVER_LOADER_FALCOCTL: 'never',
  });
  const out = await runMain(['--print-env'], env, fakePlatform());
  const e = envLines(out.stdout);
  return {
    target: e.TARGET_ID ?? '',
    release: e.KERNEL_RELEASE ?? '',
    version: e.KERNEL_VERSION ?? '',
    name: e.DRIVER_NAME ?? '',
    file: `${e.DRIVER_NAME}_${e.TARGET_ID}_${e.KERNEL_RELEASE}_${e.KERNEL_VERSION}.ko`,
  };
}

for (const release of releases()) {
  describe(`falcoctl ${release.tag}: names the vector hosts as we do`, () => {
    const built = binaryOf(release);
    if ('reason' in built) {
      // One failure per file for a release that could not be built, with the reason; its checks cannot run.
      it('has its binary', () => {
        throw new Error(built.reason);
      });
      return;
    }
    for (const c of cases) {
      it(c.name, async () => {
        const sb = new Sandbox(built.path, c.hostFiles);
        const we = await ours(c, sb.hostRoot);
        const flags = ['--type=kmod', '--name=falco', '--version=6.0.1+driver', `--host-root=${sb.hostRoot}`];
        const kernel = [`--kernelrelease=${c.kernelRelease}`, `--kernelversion=${c.kernelVersion}`];
        const server = await startServer((_req, res) => res.writeHead(404).end());
        const install = await sb.run([
          'driver',
          'install',
          ...flags,
          ...kernel,
          `--repo=${server.origin}`,
          '--compile=false',
          '--download=true',
        ]);
        const asked = server.requests.map((r) => decodeURIComponent(path.basename(r.url)));
        const printHelp = (await sb.run(['driver', 'printenv', '--help'])).stdout;
        const they: Partial<Record<Field, string>> = {
          file: asked[0] ?? `(no request: ${plain(install).slice(-300)})`,
        };
        if (printHelp.includes('--kernelrelease ')) {
          const pe = await sb.run(['driver', 'printenv', ...flags, ...kernel]);
          const e = envLines(pe.stdout);
          Object.assign(they, {
            target: e.TARGET_ID ?? plain(pe).slice(-200),
            release: e.FIXED_KERNEL_RELEASE,
            version: e.FIXED_KERNEL_VERSION,
            name: e.DRIVER_NAME,
          });
        }
        const differ: string[] = [];
        for (const [field, value] of Object.entries(they) as [Field, string][]) {
          const known = KNOWN[`${c.name}:${field}`];
          const listed = known !== undefined && semverSatisfies(release.version, known.range);
          const same = value === we[field];
          if (!same && !listed)
            differ.push(`${field}: ours ${JSON.stringify(we[field])}, falcoctl ${JSON.stringify(value)}`);
          if (same && listed)
            differ.push(`${field}: listed as a known difference but both say ${JSON.stringify(value)}`);
        }
        expect(differ).toEqual([]);
      });
    }
  });
}

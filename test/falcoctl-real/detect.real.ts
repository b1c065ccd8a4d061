import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectFalcoctl, parseFalcoctlVersion, parseLongFlags } from '../../src/falcoctl/detect.js';
import { binaryOf, FIXTURES, releases, Sandbox } from './harness.js';

/**
 * Detection against each real release: what `falcoctl version` and `driver install --help` print is exactly the
 * committed fixture (test/fixtures/falcoctl/<tag>/, which the unit tests of `npm test` read), and our detection,
 * run on the real binary, reads the right version and flags from it. FALCOCTL_RECORD=1 rewrites the fixtures.
 */
const record = process.env.FALCOCTL_RECORD === '1';

/** Only the Go toolchain line changes with the machine's Go; the fixture keeps the one it was recorded with. */
const stable = (text: string) => text.replace(/go1\.\d+(\.\d+)?/g, 'go1.x');

function fixture(tag: string, name: string, actual: string): string {
  const file = path.join(FIXTURES, tag, name);
  if (record || !existsSync(file)) {
    if (!record) throw new Error(`no fixture ${file}: run FALCOCTL_RECORD=1 npm run test:falcoctl`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, actual);
  }
  return readFileSync(file, 'utf8');
}

for (const release of releases()) {
  describe(`falcoctl ${release.tag}: detection`, () => {
    const built = binaryOf(release);
    if ('reason' in built) {
      // One failure per file for a release that could not be built, with the reason; its checks cannot run.
      it('has its binary', () => {
        throw new Error(built.reason);
      });
      return;
    }
    const binary = () => built.path;

    it('`falcoctl version` is the recorded text, and our parse reads the release from it', async () => {
      const sb = new Sandbox(binary());
      const out = await sb.run(['version']);
      expect(out.code).toBe(0);
      expect(stable(out.stdout)).toBe(stable(fixture(release.tag, 'version.txt', out.stdout)));
      expect(parseFalcoctlVersion(out.stdout)).toBe(release.version);
    });

    it('`falcoctl driver install --help` is the recorded text, and our parse reads its flags', async () => {
      const sb = new Sandbox(binary());
      const out = await sb.run(['driver', 'install', '--help']);
      expect(out.code).toBe(0);
      const text = `${out.stdout}\n${out.stderr}`;
      expect(out.stdout).toBe(fixture(release.tag, 'driver-install-help.txt', out.stdout));
      const flags = parseLongFlags(text);
      for (const f of ['--type', '--name', '--version', '--repo', '--host-root', '--compile', '--download']) {
        expect(flags).toContain(f);
      }
      // The flags every release from 0.7.3 on lists (read from falcoctl's source, and now from its help).
      for (const f of ['--kernelrelease', '--kernelversion', '--http-headers', '--http-insecure', '--http-timeout']) {
        expect(flags).toContain(f);
      }
    });

    it('`falcoctl driver cleanup --help` and `printenv --help` are recorded (which flags cleanup takes)', async () => {
      const sb = new Sandbox(binary());
      for (const sub of ['cleanup', 'printenv']) {
        const out = await sb.run(['driver', sub, '--help']);
        expect(out.code).toBe(0);
        expect(out.stdout).toBe(fixture(release.tag, `driver-${sub}-help.txt`, out.stdout));
      }
    });

    it('detectFalcoctl, run on the real binary, reports its version and install flags', async () => {
      const sb = new Sandbox(binary());
      const empty = await detectFalcoctl({ PATH: sb.bin, HOME: sb.home });
      expect(empty).toBeUndefined();
      const real = await detectFalcoctl({ PATH: path.dirname(sb.falcoctl), HOME: sb.home });
      expect(real?.path).toBe(sb.falcoctl);
      expect(real?.version).toBe(release.version);
      expect(real?.installFlags).toContain('--http-timeout');
    });
  });
}

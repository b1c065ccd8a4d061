import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Falcoctl, parseFalcoctlVersion, parseInstallHelp } from '../../src/falcoctl/detect.js';
import { type HandOffRequest, translate } from '../../src/falcoctl/translate.js';
import { repoRoot } from '../helpers/paths.js';

// The real text of each falcoctl release (recorded from binaries built from the Go module proxy; kept equal to them
// by `npm run test:falcoctl`, test/falcoctl-real/detect.real.ts).
const root = path.join(repoRoot, 'test', 'fixtures', 'falcoctl');
const tags = existsSync(root) ? readdirSync(root).filter((d) => /^v\d/.test(d)) : [];
const read = (tag: string, file: string) => readFileSync(path.join(root, tag, file), 'utf8');

const request: HandOffRequest = {
  driver: 'kmod',
  clean: false,
  enableCompile: true,
  enableDownload: true,
  driverName: 'falco',
  driverVersion: '7.0.0+driver',
  repos: ['https://download.falco.org/driver'],
  hostRoot: '',
  kernelRelease: '6.1.0-13-amd64',
  kernelVersion: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)',
  fixedKernelRelease: '6.1.55-1-amd64',
  insecure: false,
  headers: [],
  curl: {},
  tmpdir: '/tmp',
  bpfUseLocalKernelSources: false,
};

describe('falcoctl detection on the real text of each release', () => {
  it('has the recorded releases', () => {
    // v0.13.0 joins when recorded (FALCOCTL_RECORD=1 npm run test:falcoctl once it is built).
    expect(tags).toEqual(expect.arrayContaining(['v0.7.3', 'v0.8.0', 'v0.11.0', 'v0.12.2']));
  });

  describe.each(tags)('%s', (tag) => {
    const falcoctl = (): Falcoctl => ({
      path: '/usr/bin/falcoctl',
      version: parseFalcoctlVersion(read(tag, 'version.txt')) ?? 'unparsed',
      ...parseInstallHelp(read(tag, 'driver-install-help.txt')),
    });

    it('`falcoctl version` → the release', () => {
      expect(parseFalcoctlVersion(read(tag, 'version.txt'))).toBe(tag.slice(1));
    });

    it('`driver install --help` → every flag a hand-off uses; one --type only before 0.8.0', () => {
      const { installFlags, singleType } = falcoctl();
      for (const f of [
        '--type',
        '--name',
        '--version',
        '--repo',
        '--host-root',
        '--kernelrelease',
        '--kernelversion',
      ]) {
        expect(installFlags).toContain(f);
      }
      for (const f of ['--compile', '--download', '--http-timeout', '--http-insecure', '--http-headers']) {
        expect(installFlags).toContain(f);
      }
      expect(installFlags.has('--download-headers')).toBe(tag !== 'v0.7.3' && tag !== 'v0.8.0');
      expect(singleType).toBe(tag === 'v0.7.3');
    });

    it('a default kmod run is handed off; auto only where --type takes a list; bpf only before 0.13.0', () => {
      expect(translate(request, falcoctl()).kind).toBe('falcoctl');
      expect(translate({ ...request, driver: 'auto' }, falcoctl()).kind).toBe(
        tag === 'v0.7.3' ? 'standalone' : 'falcoctl',
      );
      expect(translate({ ...request, driver: 'ebpf' }, falcoctl()).kind).toBe(
        tag === 'v0.13.0' ? 'standalone' : 'falcoctl',
      );
    });

    it('`driver cleanup --help` lists the kernel flags only from 0.8.0 (so cleanup is never given them)', () => {
      const cleanup = parseInstallHelp(read(tag, 'driver-cleanup-help.txt')).installFlags;
      expect(cleanup.has('--kernelrelease')).toBe(tag !== 'v0.7.3');
      const argv = translate({ ...request, clean: true }, falcoctl());
      expect(argv.kind === 'falcoctl' && argv.argv.some((a) => a.startsWith('--kernel'))).toBe(false);
    });
  });
});

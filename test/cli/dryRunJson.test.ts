import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../../src/cli/dryRunJson.js';
import { startServer } from '../helpers/httpServer.js';
import { repoRoot } from '../helpers/paths.js';
import { baseEnv, runCli, runMain } from '../helpers/run.js';
import { tempDir, writeTree } from '../helpers/tmp.js';

const FILE = 'falco_debian_6.1.55-1-amd64_1.ko';

function hostEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const hostRoot = tempDir();
  writeTree(hostRoot, { 'etc/os-release': 'ID=debian\n', 'etc/hostname': 'node-7\n' });
  return baseEnv({
    PATH: tempDir(), // no falcoctl, no dkms, no gcc: the answer depends on nothing installed here
    HOME: tempDir(),
    HOST_ROOT: hostRoot,
    DRIVER_VERSION: '6.0.1+driver',
    FALCO_VERSION: '0.36.2',
    DRIVER_KERNEL_RELEASE: '6.1.0-13-amd64',
    DRIVER_KERNEL_VERSION: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)',
    ...extra,
  });
}

/** The type skeleton of a JSON value: what the schema pins (field names, nesting, types), not the values. */
function shape(value: unknown): unknown {
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? [] : [shape(value[0])];
  if (typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, shape(v)]));
  }
  return typeof value;
}

const sourced = (type: string) => ({ value: type, source: 'string' });
const checkedUrl = { url: 'string', check: { state: 'string', detail: 'string' } };

/** Schema version 1, as the README documents it. A change here is a change of the published schema. */
const SCHEMA_V1 = {
  schemaVersion: 'number',
  tool: { name: 'string', version: 'string' },
  host: {
    name: sourced('string'),
    arch: sourced('string'),
    kernelRelease: sourced('string'),
    kernelVersion: sourced('string'),
    hostRoot: 'string',
    distro: { osId: 'string', source: 'string' },
  },
  target: { targetId: 'string', fixedKernelRelease: 'string', fixedKernelVersion: 'string', arch: 'string' },
  driver: {
    requested: sourced('string'),
    kind: 'string',
    autoChoice: 'null',
    name: sourced('string'),
    version: sourced('string'),
    falcoVersion: sourced('string'),
  },
  download: 'boolean',
  compile: 'boolean',
  repositories: { value: ['string'], source: 'string' },
  tlsVerify: 'boolean',
  artifact: {
    fileName: 'string',
    cachePath: 'string',
    cached: 'boolean',
    urls: [checkedUrl],
    checksum: { required: 'boolean', source: 'string', file: 'string', urls: [checkedUrl] },
  },
  falcoctl: {
    policy: 'string',
    path: 'null',
    version: 'null',
    handOff: 'boolean',
    reason: 'string',
    commandLine: 'null',
  },
  steps: ['string'],
};

/** Every key path of a document, e.g. `artifact.urls[].check.state`. */
function keyPaths(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) return value.length === 0 ? [] : keyPaths(value[0], `${prefix}[]`);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const here = prefix === '' ? k : `${prefix}.${k}`;
    return [here, ...keyPaths(v, here)];
  });
}

describe('--dry-run --json (issue 19)', () => {
  it('prints exactly one JSON document of schema 1 on stdout: facts with sources, plan, checks, steps', async () => {
    const server = await startServer((req, res) => {
      res.writeHead(req.url?.endsWith(`/${FILE}`) && req.url.startsWith('/good/') ? 200 : 404).end();
    });
    const env = hostEnv({
      DRIVERS_REPO: `${server.origin.replace('://', '://bob:s3cret@')}/missing ${server.origin}/good`,
    });
    // In-process: a child process started with spawnSync would block this server's event loop.
    const result = await runMain(['--dry-run', '--json', '--check', '--falcoctl', 'never'], env);
    expect(result.code).toBe(0);
    expect(result.stdout.endsWith('}\n')).toBe(true);
    expect(result.stdout.split('\n')).toHaveLength(2); // one line: ready for JSON lines
    expect(result.stdout).not.toContain('s3cret');
    const doc = JSON.parse(result.stdout);
    expect(shape(doc)).toEqual(SCHEMA_V1);
    expect(doc.schemaVersion).toBe(SCHEMA_VERSION);
    expect(SCHEMA_VERSION).toBe(1);

    expect(doc.host.name).toEqual({ value: 'node-7', source: path.join(env.HOST_ROOT ?? '', 'etc', 'hostname') });
    expect(doc.host.kernelRelease).toEqual({ value: '6.1.0-13-amd64', source: 'environment (DRIVER_KERNEL_RELEASE)' });
    expect(doc.target).toEqual({
      targetId: 'debian',
      fixedKernelRelease: '6.1.55-1-amd64',
      fixedKernelVersion: '1',
      arch: 'x86_64',
    });
    expect(doc.driver.kind).toBe('kmod');
    expect(doc.driver.version).toEqual({ value: '6.0.1+driver', source: 'environment (DRIVER_VERSION)' });
    expect(doc.artifact.fileName).toBe(FILE);
    expect(doc.artifact.cachePath).toBe(`${env.HOME}/.falco/6.0.1+driver/x86_64/${FILE}`);
    const redacted = server.origin.replace('://', '://***@');
    expect(doc.artifact.urls).toEqual([
      {
        url: `${redacted}/missing/6.0.1%2Bdriver/x86_64/${FILE}`,
        check: { state: 'not found', detail: 'HTTP 404' },
      },
      {
        url: `${server.origin}/good/6.0.1%2Bdriver/x86_64/${FILE}`,
        check: { state: 'available', detail: 'HTTP 200' },
      },
    ]);
    expect(doc.artifact.checksum.urls.map((u: { url: string }) => u.url)).toEqual([
      `${redacted}/missing/6.0.1%2Bdriver/x86_64/SHA256SUMS`,
      `${server.origin}/good/6.0.1%2Bdriver/x86_64/SHA256SUMS`,
    ]);
    expect(doc.artifact.checksum.required).toBe(false);
    expect(doc.repositories.value).toEqual([`${redacted}/missing`, `${server.origin}/good`]);
    expect(doc.steps[0]).toMatch(/^print the header line/);
    expect(doc.steps).toContain('modprobe falco (a module installed on the system, possibly an older version)');
    expect(doc.falcoctl.reason).toBe('the falcoctl policy is never');
  });

  it('without --check no URL is asked and no check field appears; a required checksum says where it came from', async () => {
    const result = await runMain(['--dry-run', '--json', '--require-checksum'], hostEnv());
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc.artifact.urls).toEqual([{ url: `https://download.falco.org/driver/6.0.1%2Bdriver/x86_64/${FILE}` }]);
    expect(doc.artifact.checksum).toMatchObject({ required: true, source: 'command line (--require-checksum)' });
  });

  it('modern_ebpf has no artifact: null, as documented', async () => {
    const result = await runMain(['modern_ebpf', '--dry-run', '--json'], hostEnv());
    const doc = JSON.parse(result.stdout);
    expect(doc.artifact).toBeNull();
    expect(doc.driver.kind).toBe('modern_ebpf');
  });

  it('a bad setting is one line on stderr and nothing on stdout', async () => {
    const result = await runMain(['--dry-run', '--json'], hostEnv({ DRIVER_NAME: '../x' }));
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^Invalid driver name "\.\.\/x" .*\n$/);
  });

  it('--json needs --dry-run', async () => {
    const result = await runMain(['--json'], hostEnv());
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: '--json only works together with --dry-run: run falco-driver-loader --dry-run --json\n',
    });
  });

  it('the README documents every field of the document', async () => {
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const start = readme.indexOf('### `--dry-run --json`');
    expect(start).toBeGreaterThan(0);
    const section = readme.slice(start, readme.indexOf('\n## ', start));
    expect(section).toContain(`"schemaVersion": ${SCHEMA_VERSION}`);
    const result = runCli(['--dry-run', '--json', '--check'], hostEnv({ DRIVERS_REPO: 'file:///nonexistent' }));
    const missing = keyPaths(JSON.parse(result.stdout)).filter((p) => !section.includes(`\`${p}\``));
    expect(missing).toEqual([]);
  });

  it('prose --dry-run says whether the download will be checksum-verified', async () => {
    const lax = await runMain(['--dry-run'], hostEnv());
    expect(lax.stdout).toContain(
      '  checksum:         checked against the SHA256SUMS beside each file when the repository serves one',
    );
    const strict = await runMain(['--dry-run'], hostEnv({ FALCO_DRIVER_LOADER_REQUIRE_CHECKSUM: '1' }));
    expect(strict.stdout).toContain('  checksum:         required: each download must match the SHA256SUMS beside it');
  });
});

import { spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usage } from '../../src/cli/usage.js';
import { FakeBin } from '../helpers/fakeBin.js';
import { binShim } from '../helpers/paths.js';
import { baseEnv, fakePlatform, runCli, runMain } from '../helpers/run.js';
import { tempDir, writeTree } from '../helpers/tmp.js';

/** Every program the loader could ever start, faked and logging: a test fails if any of them runs. */
const PROGRAMS = [
  'insmod',
  'rmmod',
  'lsmod',
  'modprobe',
  'dkms',
  'chcon',
  'mount',
  'make',
  'gcc',
  'falcoctl',
  'falco',
  'uname',
  'sed',
  'curl',
  'sh',
  'bash',
];

function loggingFakes(): FakeBin {
  const bin = new FakeBin();
  for (const p of PROGRAMS) bin.add(p);
  return bin;
}

describe('the built CLI as a real process', () => {
  it('--help prints the usage, exits 0 and starts no program at all (legacy §B.12.1 ran the loader)', () => {
    const bin = loggingFakes();
    const result = runCli(['--help'], { PATH: bin.dir, HOME: tempDir() });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(usage());
    expect(result.stderr).toBe('');
    expect(bin.calls()).toEqual([]);
  });

  it('argument errors print the usage too, and still start nothing', () => {
    const bin = loggingFakes();
    const result = runCli(['module', 'bpf'], { PATH: bin.dir, HOME: tempDir() });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('Only one driver per invocation\n');
    expect(bin.calls()).toEqual([]);
  });

  it('--print-env starts nothing when the environment gives both versions', () => {
    const bin = loggingFakes();
    const hostRoot = tempDir();
    writeTree(hostRoot, { 'etc/os-release': 'ID=ubuntu\n' });
    const env = {
      PATH: bin.dir,
      HOME: tempDir(),
      HOST_ROOT: hostRoot,
      DRIVER_VERSION: '6.0.1+driver',
      FALCO_VERSION: '0.36.2',
    };
    const result = runCli(['--print-env'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^TARGET_ID="ubuntu-/m);
    expect(bin.calls()).toEqual([]);
  });

  it('--version and --source-only work through the bin/ shim', () => {
    const version = spawnSync(binShim, ['--version'], {
      env: baseEnv({ PATH: `${process.execPath.replace(/\/node$/, '')}:/usr/bin:/bin` }),
      encoding: 'utf8',
    });
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(/^falco-driver-loader \d+\.\d+\.\d+/);
    const source = spawnSync(binShim, ['--source-only'], {
      env: baseEnv({ PATH: `${process.execPath.replace(/\/node$/, '')}:/usr/bin:/bin` }),
      encoding: 'utf8',
    });
    expect(source.status).toBe(0);
    expect(source.stdout).toBe('');
    expect(source.stderr).toContain('--print-env');
  });
});

describe('the common gate of a real run (legacy §B.4)', () => {
  const hostEnv = (files: Record<string, string>, extra: NodeJS.ProcessEnv = {}) => {
    const hostRoot = tempDir();
    writeTree(hostRoot, files);
    return baseEnv({
      PATH: loggingFakes().path(),
      HOME: tempDir(),
      HOST_ROOT: hostRoot,
      DRIVER_VERSION: '6.0.1+driver',
      FALCO_VERSION: '0.36.2',
      DRIVER_KERNEL_RELEASE: '6.1.0-13-amd64',
      DRIVER_KERNEL_VERSION: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)',
      ...extra,
    });
  };
  const header =
    '* Running falco-driver-loader for: falco version=0.36.2, driver version=6.0.1+driver, arch=x86_64, kernel release=6.1.55-1-amd64, kernel version=1\n';

  it('not root: the header (with the fixed release), then the legacy message, exit 1', async () => {
    const env = hostEnv({ 'etc/os-release': 'ID=debian\n' });
    for (const argv of [[], ['--clean'], ['bpf'], ['--download']]) {
      const result = await runMain(argv, env, fakePlatform({ uid: 1000 }));
      expect(result.stdout).toBe(header);
      expect(result.stderr).toBe('This program must be run as root (or with sudo)\n');
      expect(result.code).toBe(1);
    }
  });

  it.runIf(process.getuid?.() === 0)('not root, for real: the built CLI run as nobody refuses', () => {
    const env = hostEnv({ 'etc/os-release': 'ID=debian\n' });
    const home = tempDir();
    chmodSync(home, 0o777);
    chmodSync(env.HOST_ROOT as string, 0o755);
    const result = runCli([], { ...env, HOME: home }, { uid: 65534 });
    expect(result.stderr).toBe('This program must be run as root (or with sudo)\n');
    expect(result.code).toBe(1);
  });

  it('undetermined target, download only: the legacy message and exit 1', async () => {
    const result = await runMain(['--download'], hostEnv({}));
    expect(result.stderr).toBe(
      'Detected an unsupported target system, please get in touch with the Falco community.\n',
    );
    expect(result.code).toBe(1);
  });

  it('--dry-run needs no root, changes nothing and names what a real run would do', async () => {
    const bin = loggingFakes();
    const env = { ...hostEnv({ 'etc/os-release': 'ID=debian\n' }), PATH: bin.path() };
    const result = await runMain(['--dry-run'], env, fakePlatform({ uid: 1000 }));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('target id:        debian');
    expect(result.stdout).toContain('falco_debian_6.1.55-1-amd64_1.ko');
    expect(result.stdout).toContain(
      'https://download.falco.org/driver/6.0.1%2Bdriver/x86_64/falco_debian_6.1.55-1-amd64_1.ko',
    );
    expect(result.stdout).toContain(
      `${String((env as NodeJS.ProcessEnv).HOME)}/.falco/6.0.1+driver/x86_64/falco_debian_6.1.55-1-amd64_1.ko  (absent)`,
    );
    expect(result.stdout).toContain('cleaning phase');
    expect(result.stdout).toContain('modprobe falco');
    // Only read-only questions: falcoctl is asked its version for the hand-off decision.
    expect(bin.calls()).toEqual(['falcoctl version']);
    expect(result.stdout).toMatch(/decision: +standalone: '.*falcoctl version' did not report a version/);
  });

  it('--dry-run of an undetermined host says download is off and only compiling is tried', async () => {
    const result = await runMain(['--dry-run'], hostEnv({}));
    expect(result.stdout).toContain('download:         no');
    expect(result.stdout).toContain('try to compile only');
  });

  it('--dry-run never prints repository credentials', async () => {
    const env = hostEnv(
      { 'etc/os-release': 'ID=debian\n' },
      { DRIVERS_REPO: 'https://bob:s3cret@mirror.example/driver' },
    );
    const result = await runMain(['--dry-run'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('https://***@mirror.example/driver/6.0.1%2Bdriver/');
    expect(result.stdout).not.toContain('s3cret');
  });
});

describe('--dry-run --check against local mirrors', () => {
  let server: http.Server;
  let base: string;
  const seen: string[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      if (req.url?.startsWith('/good/')) {
        res.writeHead(200, { 'content-length': '1234' });
        res.end();
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('says available / not found / unreachable for each candidate, in order', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const hostRoot = tempDir();
    writeTree(hostRoot, { 'etc/os-release': 'ID=ubuntu\n' });
    const env = baseEnv({
      HOME: tempDir(),
      HOST_ROOT: hostRoot,
      DRIVER_VERSION: '6.0.1+driver',
      FALCO_VERSION: '0.36.2',
      DRIVER_KERNEL_RELEASE: '5.15.0-88-generic',
      DRIVER_KERNEL_VERSION: '#98-Ubuntu SMP',
      DRIVERS_REPO: `${base}/missing,${base}/good http://127.0.0.1:${closedPort}/x`,
    });
    const result = await runMain(['--dry-run', '--check'], env);
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n').filter((l) => /^ {4}\d\. /.test(l));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(
      /missing\/6\.0\.1%2Bdriver\/x86_64\/falco_ubuntu-generic_5\.15\.0-88-generic_98\.ko {2}-> not found \(HTTP 404\)$/,
    );
    expect(lines[1]).toMatch(/-> available \(HTTP 200, 1234 bytes\)$/);
    expect(lines[2]).toMatch(/-> unreachable \(.*ECONNREFUSED.*\)$/);
    expect(seen).toContain('HEAD /good/6.0.1%2Bdriver/x86_64/falco_ubuntu-generic_5.15.0-88-generic_98.ko');
  });
});

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILD_DEFAULTS } from '../../src/defaults.js';
import { FakeBin } from '../helpers/fakeBin.js';
import { baseEnv, runMain } from '../helpers/run.js';
import { tempDir } from '../helpers/tmp.js';

const line = (stdout: string, key: string) => new RegExp(`^${key}="(.*)"$`, 'm').exec(stdout)?.[1];

const FALCO_VERSION_OUTPUT = `Falco version: 0.38.2 (x86_64)
Libs version:  0.17.3
Plugin API:    3.6.0
Engine:        0.40.0
Driver:
  API version:    8.0.0
  Schema version: 2.0.0
  Default driver: 7.2.1+driver
`;

describe('versions: environment, then falco --version, then /usr/src, then build-time defaults', () => {
  it('the environment wins and falco is not even run', async () => {
    const bin = new FakeBin().add('falco', `printf '%s' '${FALCO_VERSION_OUTPUT}'`);
    const env = baseEnv({
      PATH: bin.path(),
      HOST_ROOT: tempDir(),
      DRIVER_VERSION: '6.0.1+driver',
      FALCO_VERSION: '0.36.2',
    });
    const result = await runMain(['--print-env'], env);
    expect(line(result.stdout, 'DRIVER_VERSION')).toBe('6.0.1+driver');
    expect(line(result.stdout, 'FALCO_VERSION')).toBe('0.36.2');
    expect(bin.calls()).toEqual([]);
  });

  it('falco --version fills what the environment leaves open', async () => {
    const bin = new FakeBin().add('falco', `printf '%s' '${FALCO_VERSION_OUTPUT}'`);
    const env = baseEnv({ PATH: bin.path(), HOST_ROOT: tempDir(), FALCO_VERSION: '0.36.2' });
    const result = await runMain(['--print-env'], env);
    expect(line(result.stdout, 'DRIVER_VERSION')).toBe('7.2.1+driver');
    expect(line(result.stdout, 'FALCO_VERSION')).toBe('0.36.2');
    expect(bin.calls()).toEqual(['falco --version']);
    const both = await runMain(['--print-env'], { ...env, FALCO_VERSION: '' });
    expect(line(both.stdout, 'FALCO_VERSION')).toBe('0.38.2');
  });

  it('a falco that fails is ignored; then the newest /usr/src/<name>-<semver> is used', async () => {
    const bin = new FakeBin().add('falco', 'exit 3');
    const sysroot = tempDir();
    for (const dir of [
      'falco-6.0.1+driver',
      'falco-7.0.0+driver',
      'falco-10.0.0-rc1+driver',
      'falco-abcdef',
      'other-99.0.0',
    ]) {
      mkdirSync(path.join(sysroot, 'usr/src', dir), { recursive: true });
    }
    const env = baseEnv({ PATH: bin.path(), HOST_ROOT: tempDir(), FALCO_DRIVER_LOADER_SYSROOT: sysroot });
    const result = await runMain(['--print-env'], env);
    expect(line(result.stdout, 'DRIVER_VERSION')).toBe('10.0.0-rc1+driver');
    expect(line(result.stdout, 'FALCO_VERSION')).toBe(BUILD_DEFAULTS.falcoVersion);
    const dry = await runMain(['--dry-run'], env);
    expect(dry.stdout).toContain('10.0.0-rc1+driver  (/usr/src/falco-10.0.0-rc1+driver)');
  });

  it('nothing known: the build-time defaults, and --dry-run says so', async () => {
    const env = baseEnv({ PATH: new FakeBin().path(), HOST_ROOT: tempDir(), FALCO_DRIVER_LOADER_SYSROOT: tempDir() });
    const result = await runMain(['--dry-run'], env);
    expect(result.stdout).toContain(`${BUILD_DEFAULTS.driverVersion}  (built-in default)`);
    expect(result.stdout).toContain(`${BUILD_DEFAULTS.falcoVersion}  (built-in default)`);
  });
});

describe('legacy variables and their falcoctl-era equivalents', () => {
  const env = (extra: NodeJS.ProcessEnv) =>
    baseEnv({ HOST_ROOT: tempDir(), DRIVER_VERSION: '6.0.1+driver', FALCO_VERSION: '0.36.2', ...extra });

  it('DRIVERS_REPO beats FALCOCTL_DRIVER_REPOS; --print-env shows DRIVERS_REPO raw', async () => {
    const raw = 'https://a.example/driver, https://b.example/driver';
    const result = await runMain(
      ['--print-env'],
      env({ DRIVERS_REPO: raw, FALCOCTL_DRIVER_REPOS: 'https://c.example' }),
    );
    expect(line(result.stdout, 'DRIVERS_REPO')).toBe(raw);
  });

  it('FALCOCTL_DRIVER_REPOS (;-separated) is used when DRIVERS_REPO is unset or empty', async () => {
    const result = await runMain(
      ['--print-env'],
      env({ DRIVERS_REPO: '', FALCOCTL_DRIVER_REPOS: 'https://c.example;https://d.example' }),
    );
    expect(line(result.stdout, 'DRIVERS_REPO')).toBe('https://c.example,https://d.example');
  });

  it('DRIVER_NAME beats FALCOCTL_DRIVER_NAME; an empty one counts as unset', async () => {
    expect(
      line(
        (await runMain(['--print-env'], env({ DRIVER_NAME: 'x', FALCOCTL_DRIVER_NAME: 'y' }))).stdout,
        'DRIVER_NAME',
      ),
    ).toBe('x');
    expect(
      line((await runMain(['--print-env'], env({ DRIVER_NAME: '', FALCOCTL_DRIVER_NAME: 'y' }))).stdout, 'DRIVER_NAME'),
    ).toBe('y');
  });

  it('FALCOCTL_DRIVER_VERSION is used when DRIVER_VERSION is unset', async () => {
    const result = await runMain(
      ['--print-env'],
      env({ DRIVER_VERSION: undefined, FALCOCTL_DRIVER_VERSION: '7.0.0+driver' }),
    );
    expect(line(result.stdout, 'DRIVER_VERSION')).toBe('7.0.0+driver');
  });
});

describe('bad input: one line, exit 1, nothing printed on stdout', () => {
  const env = (extra: NodeJS.ProcessEnv) =>
    baseEnv({ HOST_ROOT: tempDir(), DRIVER_VERSION: '6.0.1+driver', FALCO_VERSION: '0.36.2', ...extra });

  it.each([
    [{ DRIVER_NAME: '../etc' }, /^Invalid driver name "\.\.\/etc" from environment \(DRIVER_NAME\)/],
    [{ DRIVER_NAME: 'a b' }, /^Invalid driver name/],
    [{ DRIVER_NAME: `${'x'.repeat(4096)}` }, /^Invalid driver name "x{64}…"/],
    [{ DRIVER_VERSION: '1.0/../../x' }, /^Invalid driver version/],
    [{ DRIVER_VERSION: '..' }, /^Invalid driver version/],
    [{ DRIVER_VERSION: '6.0.1 +driver' }, /^Invalid driver version/],
    [{ DRIVERS_REPO: ' , ' }, /^DRIVERS_REPO lists no repository/],
    [{ HOST_ROOT: '/nonexistent/host' }, /^HOST_ROOT=\/nonexistent\/host does not exist/],
  ])('%#: %s', async (extra, message) => {
    const result = await runMain(['--print-env'], env(extra));
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it.each([
    [{ DRIVERS_REPO: 'not a url' }, /^DRIVERS_REPO entry "not" is not a URL/],
    [{ DRIVERS_REPO: 'ftp://mirror/driver' }, /unsupported scheme ftp/],
    [{ DRIVERS_REPO: 'https://user:s3cret@mirror/x,gopher://user:s3cret@h/' }, /unsupported scheme gopher/],
    [{ DRIVER_KERNEL_RELEASE: '6.1/../../x' }, /^Invalid kernel release/],
    [{ DRIVER_KERNEL_VERSION: 'SMP\u0000x' }, /^Invalid kernel version "SMP\\u0000x"/],
  ])('%j (in --dry-run, where names become paths)', async (extra, message) => {
    const result = await runMain(['--dry-run'], env(extra));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toContain('s3cret');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});

import { describe, expect, it } from 'vitest';
import { usage } from '../../src/cli/usage.js';
import { baseEnv, runMain } from '../helpers/run.js';
import { tempDir } from '../helpers/tmp.js';

const env = () => baseEnv({ HOST_ROOT: tempDir(), DRIVER_VERSION: '6.0.1+driver', FALCO_VERSION: '0.36.2' });

describe('legacy grammar errors (legacy-loader.md §A.2): stderr message, usage on stdout, exit 1', () => {
  it.each([
    [['module', 'bpf'], 'Only one driver per invocation'],
    [['bpf', 'kmod'], 'Only one driver per invocation'],
    [['--foo'], 'Unknown option: --foo'],
    [['--compile=yes'], 'Unknown option: --compile=yes'],
    [['foo'], 'Unknown driver: foo'],
    [['-x'], 'Unknown driver: -x'],
    [['module', '--', 'bpf'], 'Unknown option: --'],
    [['--bogus', '--help'], 'Unknown option: --bogus'],
    [['--kernel-release'], 'Option --kernel-release needs a value'],
    [['--sign-key'], 'Option --sign-key needs a value'],
    [['--sign-cert=/c', '--sign-hash'], 'Option --sign-hash needs a value'],
  ])('%j → %s', async (argv, message) => {
    const result = await runMain(argv, env());
    expect(result.stderr).toBe(`${message}\n`);
    expect(result.stdout).toBe(usage());
    expect(result.code).toBe(1);
  });

  it('--clean with --compile or --download: one line, no usage, exit 1', async () => {
    for (const other of ['--compile', '--download']) {
      const result = await runMain(['--clean', other], env());
      expect(result.stderr).toBe('Cannot use --clean with other options\n');
      expect(result.stdout).toBe('');
      expect(result.code).toBe(1);
    }
  });
});

describe('help and version', () => {
  it('-h/--help prints the usage and exits 0, ignoring the words after it', async () => {
    for (const argv of [['-h'], ['--help'], ['--help', '--bogus'], ['module', '--help']]) {
      const result = await runMain(argv, env());
      expect(result).toEqual({ code: 0, stdout: usage(), stderr: '' });
    }
  });

  it('the usage names every word, option and variable', () => {
    const text = usage();
    for (const word of [
      'module',
      'kmod',
      'bpf',
      'ebpf',
      'modern_ebpf',
      'auto',
      '--help',
      '--version',
      '--clean',
      '--compile',
      '--download',
      '--print-env',
      '--source-only',
      '--dry-run',
      '--check',
      '--kernel-release',
      '--kernel-version',
      '--http-insecure',
      '--http-headers',
      '--falcoctl',
      '--sign-key',
      '--sign-cert',
      '--sign-hash',
      '--sign-tool',
      'DRIVERS_REPO',
      'DRIVER_NAME',
      'DRIVER_VERSION',
      'FALCO_VERSION',
      'DRIVER_INSECURE_DOWNLOAD',
      'DRIVER_CURL_OPTIONS',
      'DRIVER_KERNEL_RELEASE',
      'DRIVER_KERNEL_VERSION',
      'FALCO_BPF_PROBE',
      'HOST_ROOT',
      'HOME',
      'TMPDIR',
      'BPF_USE_LOCAL_KERNEL_SOURCES',
      'FALCOCTL_DRIVER_REPOS',
      'FALCOCTL_DRIVER_NAME',
      'FALCOCTL_DRIVER_VERSION',
      'FALCOCTL_DRIVER_HTTP_HEADERS',
      'FALCO_DRIVER_LOADER_SYSROOT',
      'FALCO_DRIVER_LOADER_FALCOCTL',
      'DRIVER_SIGN_KEY',
      'DRIVER_SIGN_CERT',
      'DRIVER_SIGN_HASH',
      'DRIVER_SIGN_TOOL',
      'KBUILD_SIGN_PIN',
    ]) {
      expect(text, word).toContain(word);
    }
    // The 0.36 text meant to show this literally (its backticks ran the loader instead: §B.12.1).
    expect(text).toContain('`. falco-driver-loader`');
  });

  it('--version prints the product version', async () => {
    const result = await runMain(['--version'], env());
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^falco-driver-loader \d+\.\d+\.\d+\n/);
  });
});

describe('word and option semantics, seen through --print-env', () => {
  const line = (stdout: string, key: string) => new RegExp(`^${key}="(.*)"$`, 'm').exec(stdout)?.[1];

  it.each([
    [[], 'module', 'yes', 'yes'],
    [['kmod'], 'module', 'yes', 'yes'],
    [['ebpf'], 'bpf', 'yes', 'yes'],
    [['modern_ebpf'], 'modern_ebpf', 'yes', 'yes'],
    [['auto'], 'auto', 'yes', 'yes'],
    [['--compile'], 'module', 'yes', ''],
    [['--download'], 'module', '', 'yes'],
    [['--download', '--compile'], 'module', 'yes', 'yes'],
    [['bpf', '--download'], 'bpf', '', 'yes'],
  ])('%j → DRIVER=%s ENABLE_COMPILE=%s ENABLE_DOWNLOAD=%s', async (argv, driver, compile, download) => {
    const result = await runMain([...argv, '--print-env'], env());
    expect(result.code).toBe(0);
    expect(line(result.stdout, 'DRIVER')).toBe(driver);
    expect(line(result.stdout, 'ENABLE_COMPILE')).toBe(compile);
    expect(line(result.stdout, 'ENABLE_DOWNLOAD')).toBe(download);
  });

  it('FALCO_BPF_PROBE selects bpf when set, even empty; a driver word still wins', async () => {
    expect(line((await runMain(['--print-env'], { ...env(), FALCO_BPF_PROBE: '' })).stdout, 'DRIVER')).toBe('bpf');
    expect(line((await runMain(['module', '--print-env'], { ...env(), FALCO_BPF_PROBE: '' })).stdout, 'DRIVER')).toBe(
      'module',
    );
  });

  it('--kernel-release/--kernel-version win over DRIVER_KERNEL_RELEASE/VERSION, in both spellings', async () => {
    const e = { ...env(), DRIVER_KERNEL_RELEASE: '5.0.0-1-generic', DRIVER_KERNEL_VERSION: '#1 SMP' };
    const spaced = await runMain(['--kernel-release', '6.2.0-9-generic', '--kernel-version=#42 SMP', '--print-env'], e);
    expect(line(spaced.stdout, 'KERNEL_RELEASE')).toBe('6.2.0-9-generic');
    expect(line(spaced.stdout, 'KERNEL_VERSION')).toBe('42');
    const fromEnv = await runMain(['--print-env'], e);
    expect(line(fromEnv.stdout, 'KERNEL_RELEASE')).toBe('5.0.0-1-generic');
  });

  it('--source-only beats --print-env: one stderr line pointing to --print-env, exit 0', async () => {
    const result = await runMain(['--print-env', '--source-only'], env());
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('eval "$(falco-driver-loader --print-env)"');
  });

  it('--check without --dry-run is refused with one line', async () => {
    const result = await runMain(['--check'], env());
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^--check only works together with --dry-run/);
  });
});

describe('the usage documents the loader-specific variables', () => {
  it.each([
    'FALCO_DRIVER_LOADER_MAX_DOWNLOAD_BYTES',
    'FALCO_DRIVER_LOADER_LOCK_TIMEOUT_SECONDS',
    'FALCO_DRIVER_LOADER_RMMOD_WAIT_SECONDS',
    'FALCO_DRIVER_LOADER_KERNEL_MIRROR',
    'FALCO_DRIVER_LOADER_COS_TOOLS_URL',
    'FALCO_DRIVER_LOADER_FALCOCTL',
  ])('%s', (name) => {
    expect(usage()).toContain(name);
  });
});

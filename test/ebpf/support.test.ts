import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseDriver } from '../../src/auto.js';
import { parseArgs } from '../../src/cli/args.js';
import { resolveSettings } from '../../src/cli/settings.js';
import { makeContext } from '../../src/context.js';
import { detectHost } from '../../src/host/detect.js';
import { kernelNumbers } from '../../src/modern/support.js';
import { baseEnv, fakePlatform } from '../helpers/run.js';
import { tempDir, writeTree } from '../helpers/tmp.js';

interface Host {
  release: string;
  os?: string;
  btf?: boolean;
  lockdown?: string;
  driverVersion?: string;
  arch?: string;
}

async function contextFor(host: Host) {
  const sysroot = tempDir();
  if (host.btf ?? false) {
    mkdirSync(path.join(sysroot, 'sys/kernel/btf'), { recursive: true });
    writeFileSync(path.join(sysroot, 'sys/kernel/btf/vmlinux'), 'BTF');
  }
  if (host.lockdown !== undefined) writeTree(sysroot, { 'sys/kernel/security/lockdown': host.lockdown });
  const hostRoot = tempDir();
  writeTree(hostRoot, { 'etc/os-release': host.os ?? 'ID=debian\n' });
  const env = baseEnv({
    HOST_ROOT: hostRoot,
    HOME: tempDir(),
    FALCO_DRIVER_LOADER_SYSROOT: sysroot,
    DRIVER_KERNEL_RELEASE: host.release,
    DRIVER_KERNEL_VERSION: '#1 SMP',
    DRIVER_VERSION: host.driverVersion ?? '9.1.0+driver',
    FALCO_VERSION: '0.43.1',
  });
  const args = parseArgs(['auto']);
  const platform = fakePlatform({ machine: host.arch ?? 'x86_64' });
  const settings = await resolveSettings(args, env, platform);
  const io = { out: () => undefined, err: () => undefined };
  return makeContext({ args, settings, host: detectHost(settings), env, io, platform });
}

describe('auto: modern_ebpf, else kmod, else the legacy probe', () => {
  it.each<[string, Host, string | undefined, RegExp]>([
    ['modern kernel with BTF', { release: '6.1.0-13-amd64', btf: true }, 'modern_ebpf', /5\.8 or newer.*BTF/],
    [
      'modern kernel, BTF but confidentiality lockdown',
      { release: '6.1.0-13-amd64', btf: true, lockdown: 'none integrity [confidentiality]\n' },
      'kmod',
      /confidentiality/,
    ],
    [
      'integrity lockdown is fine',
      { release: '6.1.0-13-amd64', btf: true, lockdown: 'none [integrity] confidentiality\n' },
      'modern_ebpf',
      /integrity/,
    ],
    ['no BTF', { release: '6.1.0-13-amd64' }, 'kmod', /no kernel BTF/],
    ['old kernel', { release: '4.19.0-25-amd64', btf: true }, 'kmod', /older than 5\.8/],
    ['COS without BTF', { release: '5.4.0+', os: 'ID=cos\nBUILD_ID=12345.0.0\n' }, 'ebpf', /COS does not allow/],
    ['Oracle UEK without BTF', { release: '5.4.17-2136.el8uek.x86_64', os: 'ID=ol\n' }, 'ebpf', /UEK/],
    [
      'COS, driver 10.x: nothing works',
      { release: '5.4.0+', os: 'ID=cos\n', driverVersion: '10.2.0+driver' },
      undefined,
      /ships no legacy probe/,
    ],
    [
      'kmod too old on aarch64 (3.16)',
      { release: '3.14.0', arch: 'aarch64' },
      undefined,
      /older than 3\.16.*older than 4\.17/,
    ],
    [
      'kmod fine on x86_64 at 3.10',
      { release: '3.10.0-1160.el7.x86_64', os: 'ID=centos\n' },
      'kmod',
      /older than 5\.8/,
    ],
  ])('%s', async (_name, host, driver, reason) => {
    const choice = chooseDriver(await contextFor(host));
    expect(choice.driver).toBe(driver);
    expect(choice.reason).toMatch(reason);
  });
});

describe('kernelNumbers', () => {
  it.each([
    ['6.1.0-13-amd64', { major: 6, minor: 1, patch: 0 }],
    ['5.15.133+', { major: 5, minor: 15, patch: 133 }],
    ['7', { major: 7, minor: 0, patch: 0 }],
    ['garbage', undefined],
  ])('%s', (release, expected) => {
    expect(kernelNumbers(release)).toEqual(expected);
  });
});

describe('--dry-run shows the same decisions', () => {
  async function dry(argv: string[], host: Host) {
    const ctx = await contextFor(host);
    const { runMain } = await import('../helpers/run.js');
    return runMain([...argv, '--dry-run'], { ...ctx.env, DRIVER_VERSION: host.driverVersion ?? '9.1.0+driver' });
  }

  it('auto on a BTF kernel: modern_ebpf, with the checks it made', async () => {
    const result = await dry(['auto'], { release: '6.1.0-13-amd64', btf: true });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/auto choice: +modern_ebpf {2}\(kernel 6\.1\.0-13-amd64 is 5\.8 or newer/);
    expect(result.stdout).toContain('report success: nothing to download or build');
  });

  it('auto without BTF: kmod, with its artifact and steps', async () => {
    const result = await dry(['auto'], { release: '5.4.0-150-generic', os: 'ID=ubuntu\n' });
    expect(result.stdout).toMatch(/auto choice: +kmod/);
    expect(result.stdout).toContain('falco_ubuntu-generic_5.4.0-150-generic_1.ko');
    expect(result.stdout).toContain('cleaning phase');
  });

  it('bpf with a 10.x driver: the stop is shown, nothing else', async () => {
    const result = await dry(['bpf'], { release: '6.1.0-13-amd64', driverVersion: '10.2.0+driver' });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/2\. stop: Driver version 10\.2\.0\+driver ships no legacy eBPF probe/);
  });

  it('modern_ebpf on an old kernel: the missing requirements are listed', async () => {
    const result = await dry(['modern_ebpf'], { release: '4.19.0-25-amd64' });
    expect(result.stdout).toMatch(/older than 5\.8.*no kernel BTF/);
    expect(result.stdout).toContain('report each missing requirement (exit 1)');
  });
});

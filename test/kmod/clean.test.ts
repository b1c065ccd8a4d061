import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDkmsStatus } from '../../src/kmod/clean.js';
import { fakePlatform, runMain } from '../helpers/run.js';
import { FakeKernel } from './fakeKernel.js';

const HEADER =
  '* Running falco-driver-loader for: falco version=0.36.2, driver version=6.0.1+driver, arch=x86_64, kernel release=6.1.0-13-amd64, kernel version=1\n';
const BANNER = '================ Cleaning phase ================';
const CLOSING = `\n[SUCCESS] Cleaning phase correctly terminated.\n\n${BANNER}\n\n`;

function dkmsStatus(k: FakeKernel, text: string): void {
  writeFileSync(path.join(k.sysroot, 'fake/dkms-status'), text);
}

function rmmodFailures(k: FakeKernel, n: number): void {
  writeFileSync(path.join(k.sysroot, 'fake/rmmod-failures'), `${n}\n`);
}

describe('parseDkmsStatus', () => {
  it.each([
    ['new format', 'falco/6.0.1+driver, 6.1.0-13-amd64, x86_64: installed\n', ['6.0.1+driver']],
    ['old format', 'falco, 6.0.1+driver, 6.1.0-13-amd64, x86_64: installed\n', ['6.0.1+driver']],
    ['added only', 'falco/7.0.0+driver: added\n', ['7.0.0+driver']],
    [
      'one line per kernel, duplicates dropped',
      'falco/6.0.1+driver, 6.1.0-12-amd64, x86_64: installed\nfalco/6.0.1+driver, 6.1.0-13-amd64, x86_64: installed\nfalco, 5.0.1+driver, 5.10.0-1-amd64, x86_64: built\n',
      ['6.0.1+driver', '5.0.1+driver'],
    ],
    ['nothing', '', []],
    [
      'dkms on a read-only root dumps its configuration: no version in it',
      'source_tree[0]="/usr/src"\ndkms_tree[0]="/var/lib/dkms"\ninstall_tree[0]="/lib/modules"\ntmp_location[0]="/tmp"\nverbose[0]=""\n',
      [],
    ],
    ['another module', 'scap/7.0.0+driver, 6.1.0-13-amd64, x86_64: installed\n', []],
    ['a version that is no version', 'falco/../../etc, 6.1.0-13-amd64, x86_64: installed\n', []],
  ])('%s', (_name, text, versions) => {
    expect(parseDkmsStatus(text)).toEqual(versions);
  });
});

describe('--clean (legacy-loader.md §B.5, §B.6.1)', () => {
  it('prints the legacy block line for line and removes every dkms version', async () => {
    const k = new FakeKernel();
    dkmsStatus(
      k,
      'falco/6.0.1+driver, 6.1.0-13-amd64, x86_64: installed\nfalco, 5.0.1+driver, 5.10.0-1-amd64, x86_64: installed\nfalco/6.0.1+driver, 6.1.0-12-amd64, x86_64: built\n',
    );
    const result = await k.run(['--clean']);
    expect(result.stdout).toBe(
      `${HEADER}* Running falco-driver-loader with: driver=module, clean=yes\n\n${BANNER}\n\n` +
        "* 1. Check if kernel module 'falco' is still loaded:\n" +
        "- OK! There is no 'falco' module loaded.\n\n" +
        "* 2. Check all versions of kernel module 'falco' in dkms:\n" +
        "- There are some versions of 'falco' module in dkms.\n\n" +
        '* 3. Removing all the following versions from dkms:\n6.0.1+driver\n5.0.1+driver\n\n' +
        '- Removing 6.0.1+driver...\nDeleting module falco-6.0.1+driver completely from the DKMS tree.\n\n' +
        "- OK! Removing '6.0.1+driver' succeeded.\n\n" +
        '- Removing 5.0.1+driver...\nDeleting module falco-5.0.1+driver completely from the DKMS tree.\n\n' +
        "- OK! Removing '5.0.1+driver' succeeded.\n\n" +
        CLOSING,
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(k.callsOf('dkms')).toEqual([
      'dkms status -m falco',
      'dkms remove -m falco -v 6.0.1+driver --all',
      'dkms remove -m falco -v 5.0.1+driver --all',
    ]);
    // --clean never loads anything.
    expect(k.callsOf('insmod')).toEqual([]);
    expect(k.callsOf('modprobe')).toEqual([]);
  });

  it('unloads a loaded module (exact name match) and reports no dkms versions', async () => {
    const k = new FakeKernel();
    k.preload('falcon_probe');
    k.preload('falco');
    const result = await k.run(['--clean']);
    expect(result.stdout).toContain(
      `* 1. Check if kernel module 'falco' is still loaded:\n- Kernel module 'falco' is still loaded.\n- Trying to unload it with 'rmmod falco'...\n- OK! Unloading 'falco' module succeeded.\n\n* 2. Check all versions of kernel module 'falco' in dkms:\n- OK! There are no 'falco' module versions in dkms.\n${CLOSING}`,
    );
    expect(k.loaded()).toEqual(['falcon_probe']);
    expect(k.callsOf('rmmod')).toEqual(['rmmod falco']);
    expect(result.code).toBe(0);
  });

  it('does not mistake a module whose name merely starts with the driver name for it', async () => {
    const k = new FakeKernel();
    k.preload('falco_probe');
    const result = await k.run(['--clean']);
    expect(result.stdout).toContain("- OK! There is no 'falco' module loaded.\n");
    expect(k.callsOf('rmmod')).toEqual([]);
  });

  it('uses DRIVER_NAME with dashes turned into underscores for lsmod, rmmod and dkms', async () => {
    const k = new FakeKernel();
    k.preload('my_falco');
    dkmsStatus(k, 'my_falco/1.0.0, 6.1.0-13-amd64, x86_64: installed\n');
    const result = await k.run(['--clean'], { DRIVER_NAME: 'my-falco' });
    expect(result.code).toBe(0);
    expect(k.callsOf('rmmod')).toEqual(['rmmod my_falco']);
    expect(k.callsOf('dkms')).toEqual(['dkms status -m my_falco', 'dkms remove -m my_falco -v 1.0.0 --all']);
  });

  it('tries rmmod 10 times, shows its errors, warns and still exits 0', async () => {
    const k = new FakeKernel();
    k.preload('falco');
    rmmodFailures(k, 99);
    const result = await k.run(['--clean']);
    const attempt =
      "- Kernel module 'falco' is still loaded.\n- Trying to unload it with 'rmmod falco'...\n" +
      "- Nothing to do...'falco-driver-loader' will wait until you remove the kernel module to have a clean termination.\n" +
      "- Check that no process is using the kernel module with 'lsmod | grep falco'.\n- Sleep 0 seconds...\n\n";
    expect(result.stdout).toContain(
      `* 1. Check if kernel module 'falco' is still loaded:\n${attempt.repeat(10)}[WARNING] 'falco' module is still loaded, you could have incompatibility issues.\n\n* 2.`,
    );
    expect(k.callsOf('rmmod')).toHaveLength(10);
    expect(result.stderr).toBe('rmmod: ERROR: Module falco is in use\n'.repeat(10));
    expect(result.code).toBe(0);
  });

  it('stops retrying as soon as rmmod works', async () => {
    const k = new FakeKernel();
    k.preload('falco');
    rmmodFailures(k, 2);
    const result = await k.run(['--clean']);
    expect(k.callsOf('rmmod')).toHaveLength(3);
    expect(result.stdout).toContain("- OK! Unloading 'falco' module succeeded.\n");
    expect(result.stdout).not.toContain('[WARNING]');
    expect(k.loaded()).toEqual([]);
  });

  it('warns when a dkms remove fails and carries on', async () => {
    const k = new FakeKernel();
    dkmsStatus(k, 'falco/6.0.1+driver: added\nfalco/7.0.0+driver: added\n');
    const result = await k.run(['--clean'], { FAKE_DKMS_REMOVE_FAIL: '1' });
    expect(result.stdout).toContain(
      "[WARNING] Removing 'falco' version '6.0.1+driver' failed.\n- Removing 7.0.0+driver...",
    );
    expect(result.stderr).toContain('Error! There is no instance of falco 6.0.1+driver');
    expect(result.code).toBe(0);
  });

  it('skips dkms when it is not installed', async () => {
    const k = new FakeKernel({ without: ['dkms'] });
    const result = await k.run(['--clean']);
    expect(result.stdout).toContain(
      `- OK! There is no 'falco' module loaded.\n\n- Skipping dkms remove (dkms not found).\n${CLOSING}`,
    );
    expect(result.code).toBe(0);
  });

  it.each([
    ['lsmod', 'This program requires lsmod.\n'],
    ['rmmod', 'This program requires rmmod.\n'],
  ])('fails when %s is missing', async (tool, message) => {
    const k = new FakeKernel({ without: [tool] });
    const result = await k.run(['--clean']);
    expect(result.stderr).toBe(message);
    expect(result.stdout).toMatch(new RegExp(`clean=yes\\n\\n${BANNER}\\n\\n$`));
    expect(result.code).toBe(1);
  });

  it('refuses driver=bpf without touching anything', async () => {
    const k = new FakeKernel();
    const result = await k.run(['--clean', 'bpf']);
    expect(result.stdout).toBe(`${HEADER}* Running falco-driver-loader with: driver=bpf, clean=yes\n`);
    expect(result.stderr).toBe('--clean not supported for driver=bpf\n');
    expect(result.code).toBe(1);
    expect(k.calls()).toEqual([]);
  });

  it('needs root', async () => {
    const k = new FakeKernel();
    const result = await runMain(['--clean'], k.env(), fakePlatform({ uid: 1000 }));
    expect(result.stderr).toBe('This program must be run as root (or with sudo)\n');
    expect(result.code).toBe(1);
    expect(k.calls()).toEqual([]);
  });
});

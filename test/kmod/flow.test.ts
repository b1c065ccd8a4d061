import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeKernel } from './fakeKernel.js';
import { moduleFor } from './modules.js';

const BANNER = '================ Cleaning phase ================';
const FILE = 'falco_centos_6.1.0-13-amd64_1.ko';

/** What follows the Cleaning phase on stdout. */
function afterCleaning(stdout: string): string {
  const end = stdout.lastIndexOf(BANNER);
  expect(end).toBeGreaterThan(0);
  return stdout.slice(end + BANNER.length + 2);
}

function cache(k: FakeKernel, module: string): string {
  const file = k.cachePath(FILE);
  mkdirSync(path.dirname(file), { recursive: true });
  copyFileSync(module, file);
  return file;
}

describe('module mode without download (--compile)', () => {
  it('loads a valid cached module: legacy lines, chcon first, version shown', async () => {
    const k = new FakeKernel();
    const file = cache(k, moduleFor(k.release));
    const result = await k.run(['--compile']);
    expect(result.stdout).toContain('* Running falco-driver-loader with: driver=module, compile=yes, download=no\n');
    expect(afterCleaning(result.stdout)).toBe(
      [
        '* Looking for a falco module locally (kernel 6.1.0-13-amd64)',
        `* Filename '${FILE}' is composed of:`,
        ' - driver name: falco',
        ' - target identifier: centos',
        ' - kernel release: 6.1.0-13-amd64',
        ' - kernel version: 1',
        `* Found a prebuilt falco module at ${file}, loading it`,
        "* Loaded 'falco' module version: 6.0.1+driver",
        '* Success: falco module found and inserted',
        '',
      ].join('\n'),
    );
    // chcon's complaint is hidden (legacy: errors ignored, output hidden).
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const calls = k.calls().filter((c) => /^(chcon|insmod|dkms install|modprobe)/.test(c));
    expect(calls).toEqual([`chcon -t modules_object_t ${file}`, `insmod ${file}`]);
    expect(k.loadedVersion()).toBe('6.0.1+driver');
  });

  it('skips chcon silently when it is not installed', async () => {
    const k = new FakeKernel({ without: ['chcon'] });
    cache(k, moduleFor(k.release));
    const result = await k.run(['--compile']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(k.callsOf('insmod')).toHaveLength(1);
  });

  it('removes a cached module built for another kernel and goes on to the next source', async () => {
    const k = new FakeKernel({ without: ['dkms'] });
    const file = cache(k, moduleFor('6.1.0-12-amd64'));
    const result = await k.run(['--compile'], { FAKE_MODPROBE_VERSION: '6.0.1+driver' });
    expect(result.stderr).toContain(
      `The cached falco module ${file} is not usable (built for 6.1.0-12-amd64, this kernel is 6.1.0-13-amd64): removed it, trying the next source\n`,
    );
    expect(existsSync(file)).toBe(false);
    expect(k.callsOf('insmod')).toEqual([]);
    expect(result.stdout).toContain('* Success: falco module found and loaded with modprobe\n');
    expect(result.code).toBe(0);
  });

  it('a FIFO at the cache path: one line, removed, the next source is tried (no hang, issue #13)', async () => {
    const k = new FakeKernel({ without: ['dkms'] });
    const file = k.cachePath(FILE);
    mkdirSync(path.dirname(file), { recursive: true });
    execFileSync('mkfifo', [file]);
    const result = await k.run(['--compile'], { FAKE_MODPROBE_VERSION: '6.0.1+driver' });
    expect(result.stderr).toContain(
      `The cached falco module ${file} is not usable (it is a FIFO, not a regular file): removed it, trying the next source\n`,
    );
    expect(existsSync(file)).toBe(false);
    expect(result.stdout).toContain('* Success: falco module found and loaded with modprobe\n');
    expect(result.code).toBe(0);
  });

  it('removes a cached module that insmod refuses (legacy kept it and failed on every run, §B.12.3)', async () => {
    const k = new FakeKernel({ without: ['dkms'] });
    const file = cache(k, moduleFor(k.release, '6.0.1+driver', ['fake=FAKE_INSMOD_REJECT']));
    const result = await k.run(['--compile']);
    expect(result.stderr).toContain(
      `Invalid module format\nUnable to insmod the cached falco module: removed ${file}, trying the next source\n`,
    );
    expect(existsSync(file)).toBe(false);
    expect(k.callsOf('modprobe')).toEqual(['modprobe falco']);
    expect(result.code).toBe(1);
  });

  it('a module that stays in use through the rmmod attempts ends the run: one line, exit 1, nothing else changed', async () => {
    const k = new FakeKernel();
    k.preload('falco', '5.0.1+driver');
    k.write('fake/rmmod-failures', '99\n');
    k.write('sys/module/falco/refcnt', '2\n');
    k.write('proc/412/comm', 'falco\n');
    mkdirSync(path.join(k.sysroot, 'proc/412/fd'));
    symlinkSync('/dev/falco0', path.join(k.sysroot, 'proc/412/fd/7'));
    symlinkSync('/dev/falco1', path.join(k.sysroot, 'proc/412/fd/8'));
    k.write('fake/dkms-status', 'falco/5.0.1+driver, 6.1.0-13-amd64, x86_64: installed\n');
    const file = cache(k, moduleFor(k.release));
    const result = await k.run(['--compile']);
    expect(result.code).toBe(1);
    expect(k.callsOf('rmmod')).toHaveLength(10);
    expect(result.stderr.split('\n').at(-2)).toBe(
      "Kernel module 'falco' is still in use after 10 rmmod attempts (use count 2; open in falco (pid 412): /dev/falco0, /dev/falco1): stop what uses it (Falco: systemctl stop falco, or stop its container), then run falco-driver-loader again; the loaded module was left as it is",
    );
    // Not the legacy "[WARNING] ... still loaded" and carry on: no dkms remove of the running module's files, no
    // insmod ("File exists"), no modprobe (which "succeeds" with the old module there).
    expect(result.stdout).not.toContain('[WARNING]');
    expect(k.callsOf('dkms')).toEqual([]);
    expect(k.callsOf('insmod')).toEqual([]);
    expect(k.callsOf('modprobe')).toEqual([]);
    expect(k.loadedVersion()).toBe('5.0.1+driver');
    expect(existsSync(file)).toBe(true);
  });

  it('keeps the cached module when insmod itself is missing', async () => {
    const k = new FakeKernel({ without: ['dkms', 'insmod'] });
    const file = cache(k, moduleFor(k.release));
    const result = await k.run(['--compile']);
    expect(result.stderr).toContain(`insmod not found on PATH: cannot load ${file}\n`);
    expect(existsSync(file)).toBe(true);
    expect(result.code).toBe(1);
  });

  it('warns when insmod succeeds but no /sys/module/<name> appears', async () => {
    const k = new FakeKernel({ without: ['dkms'] });
    cache(k, moduleFor(k.release));
    const result = await k.run(['--compile'], { FAKE_KMOD_NAME: 'other' });
    expect(result.stderr).toContain(
      "insmod reported success, but /sys/module/falco does not exist: the module did not register as 'falco'\n",
    );
    expect(result.stdout).not.toContain('* Success');
    expect(result.code).toBe(1);
  });

  it('modprobe last: warns when the system module is another version', async () => {
    const k = new FakeKernel({ without: ['dkms'] });
    const result = await k.run(['--compile'], { FAKE_MODPROBE_VERSION: '5.0.1+driver' });
    expect(result.stderr).toBe(
      'This program requires dkms\n' +
        "[WARNING] The loaded 'falco' module is version 5.0.1+driver, not driver version 6.0.1+driver: Falco may refuse it; run falco-driver-loader --clean and try again\n",
    );
    expect(afterCleaning(result.stdout)).toMatch(
      /\* Trying to load a system falco module, if present\n\* Loaded 'falco' module version: 5.0.1\+driver\n\* Success: falco module found and loaded with modprobe\n$/,
    );
    expect(k.callsOf('modprobe')).toEqual(['modprobe falco']);
    expect(result.code).toBe(0);
  });

  it('ends with the legacy failure line and exit 1 when nothing works', async () => {
    const k = new FakeKernel({ without: ['dkms'] });
    const result = await k.run(['--compile']);
    expect(result.stderr).toBe(
      'This program requires dkms\nConsider compiling your own falco driver and loading it or getting in touch with the Falco community\n',
    );
    expect(result.stdout.endsWith('* Trying to load a system falco module, if present\n')).toBe(true);
    expect(result.code).toBe(1);
  });

  it('the signature diagnosis: once, on "Key was rejected by service"; the cached file is kept', async () => {
    const k = new FakeKernel({ without: ['dkms'] });
    const file = cache(k, moduleFor(k.release));
    const result = await k.run(['--compile'], { FAKE_INSMOD_ERROR: 'Key was rejected by service' });
    const head = '* Module signature checks: Secure Boot off, lockdown not available, module.sig_enforce not available';
    expect(result.stderr).toContain(`: Key was rejected by service\n${head}\n`);
    expect(result.stderr).toContain(
      '  - sign with an enrolled key: make a key pair, enroll the certificate with mokutil --import',
    );
    expect(result.stderr.split(head)).toHaveLength(2);
    // A refused signature is not the file's fault: it loads once a key is enrolled (issue #10).
    expect(existsSync(file)).toBe(true);
    expect(result.code).toBe(1);
  });

  it('the signature diagnosis: lockdown in integrity mode', async () => {
    const k = new FakeKernel({ without: ['dkms'] });
    k.write('sys/kernel/security/lockdown', 'none [integrity] confidentiality\n');
    cache(k, moduleFor(k.release));
    const result = await k.run(['--compile'], { FAKE_INSMOD_ERROR: 'Operation not permitted' });
    expect(result.stderr).toContain(
      '* Module signature checks: Secure Boot off, lockdown integrity, module.sig_enforce not available\n  so this kernel refuses a module unless it is signed by a key it trusts',
    );
  });

  it('no Secure Boot hint for an unrelated insmod failure', async () => {
    const k = new FakeKernel({ without: ['dkms'] });
    k.write('sys/kernel/security/lockdown', '[none] integrity confidentiality\n');
    cache(k, moduleFor(k.release));
    const result = await k.run(['--compile'], { FAKE_INSMOD_ERROR: 'Invalid module format' });
    expect(result.stderr).toContain('Invalid module format');
    expect(result.stderr).not.toContain('Module signature checks');
  });

  it('rejects a non-numeric FALCO_DRIVER_LOADER_RMMOD_WAIT_SECONDS in one line', async () => {
    const k = new FakeKernel();
    k.preload('falco');
    const result = await k.run(['--clean'], { FALCO_DRIVER_LOADER_RMMOD_WAIT_SECONDS: 'soon' });
    expect(result.stderr).toBe(
      'FALCO_DRIVER_LOADER_RMMOD_WAIT_SECONDS="soon" is not a number of seconds: use e.g. 5, or unset it\n',
    );
    expect(result.code).toBe(1);
    expect(k.calls()).toEqual([]);
  });
});

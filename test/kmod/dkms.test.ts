import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { headersAdvice, makeWrapperScript, shellQuote } from '../../src/kmod/dkms.js';
import { installMajor, kernelGccMajor, orderByKernelGcc } from '../../src/kmod/gcc.js';
import { DEBIAN_OS_RELEASE, FakeKernel } from './fakeKernel.js';
import { moduleFor } from './modules.js';

const DEBIAN_PROC_VERSION =
  'Linux version 6.1.0-13-amd64 (debian-kernel@lists.debian.org) (gcc-11 (Debian 11.3.0-12) 11.3.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)\n';

describe('gcc choice', () => {
  it.each([
    [DEBIAN_PROC_VERSION, 11],
    [
      'Linux version 4.18.0-477.el8.x86_64 (mockbuild@x) (gcc version 8.5.0 20210514 (Red Hat 8.5.0-18) (GCC)) #1 SMP',
      8,
    ],
    [
      'Linux version 6.1.59-84.139.amzn2023.x86_64 (mockbuild@x) (gcc (GCC) 11.4.1 20230605 (Red Hat 11.4.1-2), GNU ld version 2.39) #1 SMP',
      11,
    ],
    [
      'Linux version 5.15.0-76-generic (buildd@x) (gcc (Ubuntu 11.3.0-1ubuntu1~22.04.1) 11.3.0, GNU ld (GNU Binutils for Ubuntu) 2.38) #83-Ubuntu SMP',
      11,
    ],
    ['Linux version 6.6.0 (x@y) (clang version 17.0.6, LLD 17.0.6) #1 SMP', undefined],
  ])('kernel compiler major from %s', (text, major) => {
    expect(kernelGccMajor(text)).toBe(major);
  });

  it('reads the major from the install: directory', () => {
    expect(installMajor('install: /usr/lib/gcc/x86_64-linux-gnu/12/')).toBe(12);
    expect(installMajor('install: /usr/lib/gcc/x86_64-pc-linux-gnu/13.2.1/')).toBe(13);
    expect(installMajor('install: /weird')).toBeUndefined();
  });

  it('puts the kernel compiler first and keeps ls order otherwise', () => {
    const gccs = [
      { path: '/b/gcc', major: 12 },
      { path: '/b/gcc-11', major: 11 },
      { path: '/b/gcc-12', major: 12 },
    ];
    expect(orderByKernelGcc(gccs, 11).map((g) => g.path)).toEqual(['/b/gcc-11', '/b/gcc', '/b/gcc-12']);
    expect(orderByKernelGcc(gccs, undefined).map((g) => g.path)).toEqual(['/b/gcc', '/b/gcc-11', '/b/gcc-12']);
  });

  it('quotes the gcc path for the make wrapper', () => {
    expect(shellQuote("/opt/it's/gcc")).toBe("'/opt/it'\\''s/gcc'");
    expect(makeWrapperScript('/usr/bin/gcc-12')).toBe('#!/bin/sh\nexec make CC=\'/usr/bin/gcc-12\' "$@"\n');
  });

  it.each([
    ['debian', 'install linux-headers-6.1.0-13-amd64'],
    ['ubuntu', 'install linux-headers-6.1.0-13-amd64'],
    ['rocky', 'install kernel-devel-6.1.0-13-amd64'],
    ['amzn', 'install kernel-devel-6.1.0-13-amd64'],
    ['arch', "install your distribution's kernel headers package for 6.1.0-13-amd64"],
  ])('headers advice for %s', (osId, advice) => {
    expect(headersAdvice(osId, '6.1.0-13-amd64')).toBe(
      `${advice} (in a container, also mount the host's /lib/modules and /usr/src)`,
    );
  });
});

describe('DKMS build (legacy-loader.md §B.6.4)', () => {
  function kernel(): FakeKernel {
    const k = new FakeKernel();
    k.headers();
    k.write('proc/version', DEBIAN_PROC_VERSION);
    return k;
  }

  it('tries the kernel compiler first, installs with dkms and loads the result', async () => {
    const k = kernel();
    const built = moduleFor(k.release);
    const result = await k.run(['--compile'], { FAKE_DKMS_MODULE: built });
    const gcc11 = path.join(k.bin.dir, 'gcc-11');
    const wrapper = /MAKE='([^']+)'/.exec(k.callsOf('dkms').at(-1) ?? '')?.[1] ?? '';
    // A fresh private directory per attempt, never a fixed name in a shared TMPDIR (issue #13).
    expect(wrapper).toMatch(new RegExp(`^${k.tmp}/falco-dkms-make-[A-Za-z0-9]{6}/make$`));
    const ko = path.join(k.sysroot, `var/lib/dkms/falco/6.0.1+driver/${k.release}/x86_64/module/falco.ko`);
    expect(result.stdout).toContain(
      [
        'install: /usr/lib/gcc/x86_64-linux-gnu/12/',
        'install: /usr/lib/gcc/x86_64-linux-gnu/11/',
        'install: /usr/lib/gcc/x86_64-linux-gnu/12/',
        `* Trying to dkms install falco module with GCC ${gcc11}`,
        `DIRECTIVE: MAKE="'${wrapper}'"`,
        'DKMS: install completed.',
        '* falco module installed in dkms',
        `* falco module found: ${ko}`,
        '* Trying to insmod',
        "* Loaded 'falco' module version: 6.0.1+driver",
        '* Success: falco module found and loaded in dkms',
        '',
      ].join('\n'),
    );
    expect(result.code).toBe(0);
    expect(k.callsOf('dkms').at(-1)).toBe(
      `dkms install --directive=MAKE='${wrapper}' -m falco -v 6.0.1+driver -k 6.1.0-13-amd64`,
    );
    expect(k.callsOf('make')).toEqual([`make CC=${gcc11} -C /lib/modules/6.1.0-13-amd64/build`]);
    expect(readFileSync(path.join(k.sysroot, 'fake/last-wrapper'), 'utf8')).toBe(makeWrapperScript(gcc11));
    // The wrapper is removed afterwards; the dkms module stays for a later modprobe.
    expect(existsSync(path.dirname(wrapper))).toBe(false);
    expect(readdirSync(k.tmp)).toEqual([]);
    expect(existsSync(ko)).toBe(true);
    expect(k.callsOf('gcc-ar')).toEqual([]);
  });

  it('the build gets KERNELDIR=/lib/modules/<release>/build of the release asked for, unless KERNELDIR is set (falco#3164)', async () => {
    const k = kernel();
    // The driver's Makefile builds against $KERNELDIR (default: the running kernel's headers), whatever dkms -k says.
    k.bin.add(
      'make',
      `printf '%s\\n' "$KERNELDIR" >> "$FALCO_DRIVER_LOADER_SYSROOT/fake/kerneldir"; echo "  CC [M]  main.o"`,
    );
    const built = moduleFor(k.release);
    expect((await k.run(['--compile'], { FAKE_DKMS_MODULE: built })).code).toBe(0);
    expect((await k.run(['--compile'], { FAKE_DKMS_MODULE: built, KERNELDIR: '/opt/headers' })).code).toBe(0);
    expect(readFileSync(path.join(k.sysroot, 'fake/kerneldir'), 'utf8')).toBe(
      `${path.join(k.sysroot, `lib/modules/${k.release}/build`)}\n/opt/headers\n`,
    );
  });

  it('dumps make.log for each failing compiler and goes on to the next', async () => {
    const k = kernel();
    const result = await k.run(['--compile'], { FAKE_DKMS_MODULE: moduleFor(k.release), FAKE_MAKE_OK_CC: '/gcc-12' });
    const log = path.join(k.sysroot, 'var/lib/dkms/falco/6.0.1+driver/build/make.log');
    const gcc = (n: string) => path.join(k.bin.dir, n);
    expect(result.stdout).toContain(
      `* Running dkms build failed, dumping ${log} (with GCC ${gcc('gcc-11')})\nmain.c:1: error: ${gcc('gcc-11')} cannot build this kernel\n* Trying to dkms install falco module with GCC ${gcc('gcc')}\n`,
    );
    expect(result.stdout).toContain(`* Trying to dkms install falco module with GCC ${gcc('gcc-12')}\n`);
    expect(result.stdout).toContain('* Success: falco module found and loaded in dkms\n');
    expect(k.callsOf('make').map((c) => c.split(' ')[1])).toEqual([
      `CC=${gcc('gcc-11')}`,
      `CC=${gcc('gcc')}`,
      `CC=${gcc('gcc-12')}`,
    ]);
    expect(result.code).toBe(0);
  });

  it("says when make.log is missing and shows dkms's own error then", async () => {
    const k = kernel();
    const result = await k.run(['--compile'], { FAKE_DKMS_NO_SOURCE: '1' });
    const log = path.join(k.sysroot, 'var/lib/dkms/falco/6.0.1+driver/build/make.log');
    expect(result.stdout).toContain(
      `* Running dkms build failed, couldn't find ${log} (with GCC ${path.join(k.bin.dir, 'gcc-11')})\n`,
    );
    expect(result.stderr).toContain('Error! Could not find module source directory.\n');
    expect(k.callsOf('dkms').filter((c) => c.startsWith('dkms install'))).toHaveLength(3);
    expect(result.code).toBe(1);
  });

  it('stops compiling when dkms succeeds but leaves no module file (legacy §B.12.15)', async () => {
    const k = kernel();
    const result = await k.run(['--compile'], { FAKE_DKMS_NO_MODULE: '1' });
    expect(result.stderr).toContain('falco module file not found\n');
    expect(k.callsOf('dkms').filter((c) => c.startsWith('dkms install'))).toHaveLength(1);
    expect(result.stdout).toContain('* Trying to load a system falco module, if present\n');
    expect(result.code).toBe(1);
  });

  it('finds a compressed module (.ko.xz) and hands it to insmod unchecked', async () => {
    const k = kernel();
    const result = await k.run(['--compile'], { FAKE_DKMS_MODULE: moduleFor(k.release), FAKE_DKMS_SUFFIX: '.xz' });
    expect(result.stdout).toMatch(/\* falco module found: .*\/module\/falco\.ko\.xz\n/);
    expect(result.code).toBe(0);
  });

  it('does not insmod a dkms module built for another kernel', async () => {
    const k = kernel();
    const result = await k.run(['--compile'], { FAKE_DKMS_MODULE: moduleFor('6.1.0-99-amd64') });
    expect(result.stderr).toContain('is not usable: built for 6.1.0-99-amd64, this kernel is 6.1.0-13-amd64\n');
    expect(result.stdout).toContain('* Unable to insmod falco module\n');
    expect(k.callsOf('insmod')).toEqual([]);
    expect(result.code).toBe(1);
  });

  it('says which headers package to install when /lib/modules/<release>/build is missing', async () => {
    const k = new FakeKernel({ osRelease: DEBIAN_OS_RELEASE });
    const result = await k.run(['--compile']);
    expect(result.stderr).toContain(
      `Kernel headers for 6.1.0-13-amd64 are missing (no ${path.join(k.sysroot, 'lib/modules/6.1.0-13-amd64/build')}): install linux-headers-6.1.0-13-amd64 (in a container, also mount the host's /lib/modules and /usr/src); skipping the dkms build\n`,
    );
    expect(k.callsOf('dkms').filter((c) => c.startsWith('dkms install'))).toEqual([]);
    expect(k.callsOf('gcc')).toEqual([]);
  });

  it('skips dkms on UEK kernels with the legacy line', async () => {
    const k = new FakeKernel({ release: '5.15.0-200.131.27.el9uek.x86_64' });
    const result = await k.run(['--compile']);
    expect(result.stderr).toContain('Skipping because the dkms install always fail (on UEK hosts)\n');
    expect(k.callsOf('dkms').filter((c) => c.startsWith('dkms install'))).toEqual([]);
  });

  it('says so when there is no gcc at all', async () => {
    const k = new FakeKernel({ without: ['gcc', 'gcc-11', 'gcc-12'] });
    k.headers();
    const result = await k.run(['--compile']);
    expect(result.stderr).toContain('No gcc found on PATH: install gcc to build the falco module with dkms\n');
    expect(result.code).toBe(1);
  });

  it('refuses a TMPDIR that would break out of the quotes dkms evaluates', async () => {
    const k = kernel();
    const result = await k.run(['--compile'], { TMPDIR: "/tmp/it's" });
    expect(result.stderr).toContain(
      'Cannot write the dkms make wrapper: "/tmp/it\'s/falco-dkms-make-" contains a quote or a newline (check TMPDIR and PATH)\n',
    );
    expect(k.callsOf('dkms').filter((c) => c.startsWith('dkms install'))).toEqual([]);
  });

  it('a falco-dkms-make planted in TMPDIR by another user does not disable the build (issue #13)', async () => {
    const k = kernel();
    mkdirSync(path.join(k.tmp, 'falco-dkms-make', 'x'), { recursive: true });
    const result = await k.run(['--compile'], { FAKE_DKMS_MODULE: moduleFor(k.release) });
    expect(result.stderr).not.toContain('Cannot write the dkms make wrapper');
    expect(result.stdout).toContain('* Success: falco module found and loaded in dkms');
    expect(result.code).toBe(0);
    expect(readdirSync(k.tmp)).toEqual(['falco-dkms-make']);
  });
});

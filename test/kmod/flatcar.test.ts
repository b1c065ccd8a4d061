import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/args.js';
import { resolveSettings } from '../../src/cli/settings.js';
import { makeContext } from '../../src/context.js';
import { detectHost } from '../../src/host/detect.js';
import { relocateFlatcarTools } from '../../src/kmod/flatcar.js';
import { elfObject } from '../ebpf/fixtures.js';
import { fakePlatform } from '../helpers/run.js';
import { tempDir, writeTree } from '../helpers/tmp.js';
import { FakeKernel } from './fakeKernel.js';
import { moduleFor } from './modules.js';

/** Legacy-loader.md §B.6.4 step 3 and §B.7 step 4, with HOST_ROOT/TMPDIR honoured and the bind mounts undone. */

const RELEASE = '5.15.142-flatcar';
const TOOLS = ['scripts/basic/fixdep', 'scripts/mod/modpost', 'tools/objtool/objtool'];

interface Options {
  readonly tools?: readonly string[];
  readonly buildRelease?: string;
  readonly osRelease?: string;
}

/** A Flatcar host: os-release and the host's loader under HOST_ROOT, the kernel's tools in the simulated sysroot. */
function flatcar(options: Options = {}): FakeKernel {
  const k = new FakeKernel({
    release: RELEASE,
    osRelease: options.osRelease ?? 'ID=flatcar\nVERSION_ID=3602.2.1\n',
  });
  writeTree(k.hostRoot, { 'usr/lib64/ld-linux-x86-64.so.2': 'host loader', 'usr/lib64/libc.so.6': 'host libc' });
  k.headers(options.buildRelease ?? RELEASE);
  for (const tool of options.tools ?? TOOLS) {
    chmodSync(k.write(`lib/modules/${options.buildRelease ?? RELEASE}/build/${tool}`, `original ${tool}\n`), 0o755);
  }
  // The fakes only log their argv (FakeBin); patchelf marks the copy, mount records what it would have bound.
  k.bin.add('patchelf', 'echo patched >> "$5"');
  k.bin.add('mount', '{ echo "== $3"; cat "$2"; } >> "$FALCO_DRIVER_LOADER_SYSROOT/fake/bound"');
  k.bin.add('umount');
  return k;
}

const tool = (k: FakeKernel, t: string, release = RELEASE) => path.join(k.sysroot, 'lib/modules', release, 'build', t);
const loader = (k: FakeKernel) => path.join(k.hostRoot, 'usr/lib64/ld-linux-x86-64.so.2');
const leftovers = (k: FakeKernel) => readdirSync(k.tmp).filter((n) => n.startsWith('falco-flatcar-'));

describe('Flatcar kernel-tool relocation', () => {
  it('DKMS: the legacy lines in order, patchelf then mount --bind per tool, all unmounted after the build', async () => {
    const k = flatcar();
    const result = await k.run(['--compile'], { FAKE_DKMS_MODULE: moduleFor(RELEASE) });
    expect(result.code).toBe(0);
    const gcc = path.join(k.bin.dir, 'gcc');
    expect(result.stdout).toContain(
      [
        '* Flatcar detected (version 3602.2.1); relocating kernel tools',
        `** Found host dl interpreter: ${loader(k)}`,
        ...TOOLS.map((t) => `** Setting host dl interpreter for ${tool(k, t)}`),
        `* Trying to dkms install falco module with GCC ${gcc}`,
      ].join('\n'),
    );
    const copies = k.callsOf('patchelf').map((c) => c.split(' ').at(-1) ?? '');
    expect(k.callsOf('patchelf')).toEqual(
      copies.map(
        (c) => `patchelf --set-interpreter ${loader(k)} --set-rpath ${path.join(k.hostRoot, 'usr/lib64')} ${c}`,
      ),
    );
    copies.forEach((copy, i) => {
      expect(copy.startsWith(path.join(k.tmp, 'falco-flatcar-'))).toBe(true);
      expect(copy.endsWith(`/${TOOLS[i]}`)).toBe(true);
    });
    expect(k.callsOf('mount')).toEqual(TOOLS.map((t, i) => `mount --bind ${copies[i]} ${tool(k, t)}`));
    // What got bound was the patched copy; the original was never written.
    expect(readFileSync(path.join(k.sysroot, 'fake/bound'), 'utf8')).toBe(
      TOOLS.map((t) => `== ${tool(k, t)}\noriginal ${t}\npatched\n`).join(''),
    );
    expect(readFileSync(tool(k, 'scripts/mod/modpost'), 'utf8')).toBe('original scripts/mod/modpost\n');
    // Undone after the build, last mount first, and nothing left in TMPDIR.
    const calls = k.calls();
    const firstUmount = calls.findIndex((c) => c.startsWith('umount'));
    expect(calls.slice(0, firstUmount).some((c) => c.startsWith('dkms install'))).toBe(true);
    expect(calls.slice(firstUmount).filter((c) => c.startsWith('dkms'))).toEqual([]);
    expect(k.callsOf('umount')).toEqual([...TOOLS].reverse().map((t) => `umount ${tool(k, t)}`));
    expect(leftovers(k)).toEqual([]);
    // dkms still targets the real release, not the Flatcar VERSION_ID.
    expect(k.callsOf('dkms').at(-1)).toMatch(/ -k 5\.15\.142-flatcar$/);
  });

  it('DKMS build failing with every gcc: the mounts are still undone and the copies removed', async () => {
    const k = flatcar();
    const result = await k.run(['--compile'], { FAKE_DKMS_NO_SOURCE: '1' });
    expect(result.code).toBe(1);
    expect(k.callsOf('dkms').filter((c) => c.startsWith('dkms install'))).toHaveLength(3);
    expect(k.callsOf('umount')).toHaveLength(3);
    const calls = k.calls();
    const firstUmount = calls.findIndex((c) => c.startsWith('umount'));
    expect(calls.slice(0, firstUmount).filter((c) => c.startsWith('dkms install'))).toHaveLength(3);
    expect(leftovers(k)).toEqual([]);
  });

  it('the copy keeps the executable mode of the original', async () => {
    const k = flatcar();
    k.bin.add('mount', 'ls -l "$2" | cut -c1-10 >> "$FALCO_DRIVER_LOADER_SYSROOT/fake/modes"');
    await k.run(['--compile'], { FAKE_DKMS_MODULE: moduleFor(RELEASE) });
    expect(statSync(tool(k, 'scripts/basic/fixdep')).mode & 0o777).toBe(0o755);
    expect(existsSync(path.join(k.sysroot, 'fake/modes'))).toBe(true);
    expect(readFileSync(path.join(k.sysroot, 'fake/modes'), 'utf8')).toBe('-rwxr-xr-x\n'.repeat(3));
  });

  it('patchelf missing: one warning, nothing copied or mounted, the build still runs', async () => {
    const k = flatcar();
    k.bin.add('patchelf', 'exit 0');
    // Make the fake unreachable: which() needs an executable file.
    chmodSync(path.join(k.bin.dir, 'patchelf'), 0o644);
    const result = await k.run(['--compile'], { FAKE_DKMS_MODULE: moduleFor(RELEASE) });
    expect(result.stderr).toContain(
      '** patchelf not found on PATH: kernel tools not relocated, the build may fail to run them (install patchelf)\n',
    );
    expect(result.stdout).not.toContain('** Setting host dl interpreter');
    expect(k.callsOf('mount')).toEqual([]);
    expect(k.callsOf('umount')).toEqual([]);
    expect(result.stdout).toContain('* Success: falco module found and loaded in dkms');
    expect(leftovers(k)).toEqual([]);
  });

  it('a missing tool (objtool, e.g. on arm64): one warning, the others relocated and undone', async () => {
    const k = flatcar({ tools: TOOLS.slice(0, 2) });
    const result = await k.run(['--compile'], { FAKE_DKMS_MODULE: moduleFor(RELEASE) });
    expect(result.stderr).toContain(`** ${tool(k, 'tools/objtool/objtool')} not found: not relocated\n`);
    expect(k.callsOf('mount')).toHaveLength(2);
    expect(k.callsOf('umount')).toEqual([
      `umount ${tool(k, 'scripts/mod/modpost')}`,
      `umount ${tool(k, 'scripts/basic/fixdep')}`,
    ]);
    expect(result.code).toBe(0);
  });

  it('a failing patchelf or mount: one warning each, only what was mounted is unmounted', async () => {
    const k = flatcar();
    k.bin.add('patchelf', 'case "$5" in *fixdep) echo "patchelf: not an ELF executable" >&2; exit 1 ;; esac');
    k.bin.add('mount', 'case "$3" in *objtool) echo "mount: permission denied" >&2; exit 32 ;; esac');
    const result = await k.run(['--compile'], { FAKE_DKMS_MODULE: moduleFor(RELEASE) });
    expect(result.stderr).toContain(
      `** patchelf failed for ${tool(k, 'scripts/basic/fixdep')} (patchelf: not an ELF executable): not relocated\n`,
    );
    expect(result.stderr).toContain(
      `** Cannot bind-mount the relocated copy over ${tool(k, 'tools/objtool/objtool')} (mount: permission denied): the build uses the original\n`,
    );
    expect(k.callsOf('umount')).toEqual([`umount ${tool(k, 'scripts/mod/modpost')}`]);
    expect(result.code).toBe(0);
    expect(leftovers(k)).toEqual([]);
  });

  it('a failing umount: one warning, and the copies stay (they are still bound)', async () => {
    const k = flatcar();
    k.bin.add('umount', 'echo "umount: target is busy." >&2; exit 32');
    const result = await k.run(['--compile'], { FAKE_DKMS_MODULE: moduleFor(RELEASE) });
    expect(result.stderr).toMatch(
      /\*\* Cannot unmount the relocated .*\/fixdep \(umount: target is busy\.\): it stays bound to a copy in .*falco-flatcar-\w+; run umount .*\/fixdep\n/,
    );
    expect(leftovers(k)).toHaveLength(1);
  });

  it('not Flatcar: no relocation at all', async () => {
    const k = flatcar({ osRelease: 'ID="centos"\nVERSION_ID="9"\n' });
    const result = await k.run(['--compile'], { FAKE_DKMS_MODULE: moduleFor(RELEASE) });
    expect(result.stdout).not.toContain('Flatcar');
    expect(k.callsOf('patchelf')).toEqual([]);
    expect(k.callsOf('mount')).toEqual([]);
    expect(result.code).toBe(0);
  });

  it('eBPF compile: relocated before make, undone after; the only /lib/modules entry when the release has none', async () => {
    const k = flatcar({ buildRelease: '5.15.133-flatcar' });
    mkdirSync(path.join(k.sysroot, 'sys/kernel/debug/tracing'), { recursive: true });
    const bpf = path.join(k.sysroot, `usr/src/falco-${k.driverVersion}/bpf`);
    mkdirSync(bpf, { recursive: true });
    const probe = path.join(tempDir(), 'probe.o');
    writeFileSync(probe, elfObject(247));
    k.bin.add('make', `cp '${probe}' "$2/probe.o"`);
    const result = await k.run(['bpf', '--compile']);
    expect(result.code).toBe(0);
    const old = (t: string) => tool(k, t, '5.15.133-flatcar');
    expect(result.stdout).toContain(
      [
        '* Flatcar detected (version 3602.2.1); relocating kernel tools',
        `** Found host dl interpreter: ${loader(k)}`,
        ...TOOLS.map((t) => `** Setting host dl interpreter for ${old(t)}`),
        '* Trying to compile the eBPF probe (falco_flatcar_3602.2.1_1.o)',
      ].join('\n'),
    );
    const calls = k.calls().filter((c) => /^(make|mount|umount) /.test(c));
    expect(calls.map((c) => c.split(' ')[0])).toEqual([
      'mount',
      'mount',
      'mount',
      'make',
      'umount',
      'umount',
      'umount',
    ]);
    expect(k.callsOf('mount')[0]).toMatch(new RegExp(` ${old('scripts/basic/fixdep').replaceAll('.', '\\.')}$`));
    expect(leftovers(k)).toEqual([]);
  });

  it('HOST_ROOT unset: the host is the root, its tools already use its loader; nothing relocated', async () => {
    const k = flatcar();
    const env = { ...k.env() };
    delete env.HOST_ROOT;
    const args = parseArgs(['--compile']);
    const platform = fakePlatform({ kernelRelease: RELEASE });
    const settings = await resolveSettings(args, env, platform);
    // A Flatcar target as if /etc/os-release said so (the test machine's own os-release is not Flatcar).
    const host = detectHost({ ...settings, hostRoot: k.hostRoot });
    let stdout = '';
    const io = {
      out: (t: string) => {
        stdout += t;
      },
      err: (t: string) => {
        stdout += t;
      },
    };
    const ctx = makeContext({ args, settings, host, env, io, platform });
    const relocation = await relocateFlatcarTools(ctx);
    await relocation.undo();
    expect(stdout).toBe(
      [
        '* Flatcar detected (version 3602.2.1); relocating kernel tools',
        "** HOST_ROOT is unset: the kernel tools already use this system's dl interpreter (/usr/lib64/ld-linux-*.so.*), nothing to relocate",
        '',
      ].join('\n'),
    );
    expect(k.calls()).toEqual([]);
  });
});

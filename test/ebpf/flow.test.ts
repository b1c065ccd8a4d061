import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/args.js';
import { resolveSettings } from '../../src/cli/settings.js';
import { makeContext } from '../../src/context.js';
import { runEbpf } from '../../src/ebpf/flow.js';
import { UserError } from '../../src/errors.js';
import { detectHost } from '../../src/host/detect.js';
import { runModernEbpf } from '../../src/modern/flow.js';
import { FakeBin } from '../helpers/fakeBin.js';
import { GpgSigner } from '../helpers/gpg.js';
import { startProxy } from '../helpers/httpServer.js';
import { baseEnv, fakePlatform } from '../helpers/run.js';
import { tempDir, writeTree } from '../helpers/tmp.js';
import { elfObject, type FileServer, fileServer, writeBpfObject } from './fixtures.js';

const RELEASE = '5.15.0-88-generic';
const FILE = `falco_ubuntu-generic_${RELEASE}_98.o`;
const DRIVER = '7.0.0+driver';
const REMOTE = `/7.0.0%2Bdriver/x86_64/${FILE}`;

let server: FileServer;
beforeEach(async () => {
  server = await fileServer();
});
afterEach(async () => {
  await server.close();
});

interface World {
  home: string;
  sysroot: string;
  hostRoot: string;
  tmp: string;
  bin: FakeBin;
  env: NodeJS.ProcessEnv;
  cache: string;
  link: string;
}

function world(extra: NodeJS.ProcessEnv = {}, os = 'ID=ubuntu\n'): World {
  const home = tempDir();
  const sysroot = tempDir();
  const hostRoot = tempDir();
  const tmp = tempDir();
  mkdirSync(path.join(sysroot, 'sys/kernel/debug/tracing'), { recursive: true });
  writeTree(hostRoot, { 'etc/os-release': os });
  const bin = new FakeBin().add('mount');
  const env = baseEnv({
    PATH: bin.path(),
    HOME: home,
    HOST_ROOT: hostRoot,
    TMPDIR: tmp,
    FALCO_DRIVER_LOADER_SYSROOT: sysroot,
    DRIVER_KERNEL_RELEASE: RELEASE,
    DRIVER_KERNEL_VERSION: '#98-Ubuntu SMP',
    DRIVER_VERSION: DRIVER,
    FALCO_VERSION: '0.37.1',
    DRIVERS_REPO: `${server.url}/first,${server.url}/second`,
    ...extra,
  });
  const cache = path.join(home, '.falco', DRIVER, 'x86_64', FILE);
  return { home, sysroot, hostRoot, tmp, bin, env, cache, link: path.join(home, '.falco', 'falco-bpf.o') };
}

async function run(w: World, argv: string[] = ['bpf'], flow = runEbpf) {
  let stdout = '';
  let stderr = '';
  const args = parseArgs(argv);
  const platform = fakePlatform();
  const settings = await resolveSettings(args, w.env, platform);
  const io = {
    out: (t: string) => {
      stdout += t;
    },
    err: (t: string) => {
      stderr += t;
    },
  };
  const ctx = makeContext({ args, settings, host: detectHost(settings), env: w.env, io, platform });
  let code: number;
  try {
    code = await flow(ctx);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    stderr += `${error.message}\n`;
    code = error.exitCode;
  }
  return { code, stdout, stderr };
}

/** A fake make: `make -C <dir> [target]`; writes <dir>/probe.o from $FAKE_PROBE and logs the build env. */
function fakeMake(w: World, exit = 0): void {
  w.bin.add(
    'make',
    `printf 'KERNELDIR=%s KBUILD_EXTRA_CPPFLAGS=%s\\n' "$KERNELDIR" "$KBUILD_EXTRA_CPPFLAGS" >> '${w.bin.dir}/make-env.log'
if [ -n "$KERNELDIR" ] && [ -f "$KERNELDIR/include/linux/compiler-clang.h" ]; then cat "$KERNELDIR/include/linux/compiler-clang.h" >> '${w.bin.dir}/header.log'; fi
if [ "$#" -eq 2 ] && [ -n "$FAKE_PROBE" ]; then cp "$FAKE_PROBE" "$2/probe.o"; fi
exit ${exit}`,
  );
}

describe('legacy eBPF probe flow (legacy-loader.md §B.7)', () => {
  it('a cached probe: skip download and compile, symlink it, exit 0, with the legacy lines in order', async () => {
    const w = world();
    mkdirSync(path.dirname(w.cache), { recursive: true });
    writeBpfObject(w.cache);
    const result = await run(w);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      [
        '* Running falco-driver-loader with: driver=bpf, compile=yes, download=yes',
        `* Filename '${FILE}' is composed of:`,
        ' - driver name: falco',
        ' - target identifier: ubuntu-generic',
        ` - kernel release: ${RELEASE}`,
        ' - kernel version: 98',
        `* Skipping download, eBPF probe is already present in ${w.cache}`,
        `* Skipping compilation, eBPF probe is already present in ${w.cache}`,
        `* eBPF probe located in ${w.cache}`,
        `* Success: eBPF probe symlinked to ${w.link}`,
        '',
      ].join('\n'),
    );
    expect(readlinkSync(w.link)).toBe(w.cache);
    expect(server.requests).toEqual([]);
    expect(w.bin.calls()).toEqual([]);
  });

  it('first repo 404, second serves it: downloaded, verified, cached and symlinked', async () => {
    const w = world();
    server.routes.set(`/second${REMOTE}`, elfObject(247));
    const result = await run(w);
    expect(result.code).toBe(0);
    expect(server.requests.map((r) => r.replace(/^GET /, ''))).toEqual([
      `/first${REMOTE}`,
      `/second${REMOTE}`,
      `/second${REMOTE.replace(/[^/]*$/, 'SHA256SUMS')}`, // issue 19: the checksum beside it, when served
    ]);
    expect(result.stdout).toContain(`* Trying to download a prebuilt eBPF probe from ${server.url}/first${REMOTE}`);
    expect(result.stderr).toContain('Unable to find a prebuilt falco eBPF probe');
    expect(readFileSync(w.cache)).toEqual(elfObject(247));
    expect(readlinkSync(w.link)).toBe(w.cache);
  });

  it('a 200 HTML page and a kernel module are rejected, never cached nor symlinked', async () => {
    const w = world({ DRIVERS_REPO: `${server.url}/first,${server.url}/second` });
    server.routes.set(`/first${REMOTE}`, Buffer.from('<html><body>Access denied</body></html>'));
    server.routes.set(`/second${REMOTE}`, elfObject(62));
    const result = await run(w, ['bpf', '--download']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/HTML/);
    expect(result.stderr).toMatch(/machine 62/);
    expect(result.stderr).toContain('Unable to load the falco eBPF probe');
    expect(existsSync(w.cache)).toBe(false);
    expect(existsSync(w.link)).toBe(false);
    expect(readdirSync(path.dirname(w.cache))).toEqual([]);
  });

  it('a truncated probe (a valid BPF ELF header and nothing else) is refused, never cached (issue #13)', async () => {
    const w = world({ DRIVERS_REPO: `${server.url}/first,${server.url}/second` });
    server.routes.set(`/first${REMOTE}`, elfObject(247, true));
    server.routes.set(`/second${REMOTE}`, elfObject(247));
    const result = await run(w, ['bpf', '--download']);
    expect(result.stderr).toMatch(/it is a damaged ELF file \(the section header table lies outside the file\)/);
    expect(result.code).toBe(0);
    expect(readFileSync(w.cache)).toEqual(elfObject(247));
    // And a truncated file already in the cache is dropped rather than linked.
    writeFileSync(w.cache, elfObject(247, true));
    const again = await run(w, ['bpf', '--compile']);
    expect(again.stderr).toMatch(
      /Rejected the cached probe .*: it is a damaged ELF file \(the section header table lies outside/,
    );
  });

  it('a stale cached file that is not an eBPF object is removed, then downloaded again', async () => {
    const w = world();
    mkdirSync(path.dirname(w.cache), { recursive: true });
    writeFileSync(w.cache, 'partial garbage');
    server.routes.set(`/first${REMOTE}`, elfObject(247));
    const result = await run(w);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`* Rejected the cached probe ${w.cache}: it is not an ELF file; removing it`);
    expect(readFileSync(w.cache)).toEqual(elfObject(247));
  });

  it('download disabled (--compile): no request; make builds it and the built object is cached', async () => {
    const w = world();
    const probe = path.join(tempDir(), 'probe.o');
    writeBpfObject(probe);
    w.env.FAKE_PROBE = probe;
    fakeMake(w);
    mkdirSync(path.join(w.sysroot, `usr/src/falco-${DRIVER}/bpf`), { recursive: true });
    const result = await run(w, ['bpf', '--compile']);
    expect(result.code).toBe(0);
    expect(server.requests).toEqual([]);
    expect(result.stdout).toContain(`* Trying to compile the eBPF probe (${FILE})`);
    expect(w.bin.calls()).toEqual([`make -C ${path.join(w.sysroot, `usr/src/falco-${DRIVER}/bpf`)}`]);
    expect(readFileSync(w.cache)).toEqual(elfObject(247));
    expect(readlinkSync(w.link)).toBe(w.cache);
  });

  it('make gets KERNELDIR=/lib/modules/<release>/build of the release built for, unless KERNELDIR is set (falco#3164)', async () => {
    const w = world();
    const probe = path.join(tempDir(), 'probe.o');
    writeBpfObject(probe);
    w.env.FAKE_PROBE = probe;
    fakeMake(w);
    mkdirSync(path.join(w.sysroot, `usr/src/falco-${DRIVER}/bpf`), { recursive: true });
    mkdirSync(path.join(w.sysroot, `lib/modules/${RELEASE}/build`), { recursive: true });
    expect((await run(w, ['bpf', '--compile'])).code).toBe(0);
    rmSync(w.cache);
    w.env.KERNELDIR = '/opt/headers';
    expect((await run(w, ['bpf', '--compile'])).code).toBe(0);
    expect(readFileSync(path.join(w.bin.dir, 'make-env.log'), 'utf8')).toBe(
      `KERNELDIR=${path.join(w.sysroot, `lib/modules/${RELEASE}/build`)} KBUILD_EXTRA_CPPFLAGS=\nKERNELDIR=/opt/headers KBUILD_EXTRA_CPPFLAGS=\n`,
    );
  });

  it('installing the built probe never writes through a symlink planted at the temp name (issue #13)', async () => {
    const w = world();
    const probe = path.join(tempDir(), 'probe.o');
    writeBpfObject(probe);
    w.env.FAKE_PROBE = probe;
    fakeMake(w);
    mkdirSync(path.join(w.sysroot, `usr/src/falco-${DRIVER}/bpf`), { recursive: true });
    mkdirSync(path.dirname(w.cache), { recursive: true });
    const victim = path.join(tempDir(), 'victim');
    writeFileSync(victim, 'untouched');
    symlinkSync(victim, path.join(path.dirname(w.cache), `.${FILE}.part-${process.pid}`));
    const result = await run(w, ['bpf', '--compile']);
    expect(result.code).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('untouched');
    expect(readFileSync(w.cache)).toEqual(elfObject(247));
  });

  it('a FIFO at the cached probe path: one line, removed, no hang (issue #13)', async () => {
    const w = world();
    mkdirSync(path.dirname(w.cache), { recursive: true });
    execFileSync('mkfifo', [w.cache]);
    const result = await run(w, ['bpf', '--download']);
    expect(result.stderr).toContain(
      `* Rejected the cached probe ${w.cache}: it is a FIFO, not a regular file; removing it`,
    );
    expect(existsSync(w.cache)).toBe(false);
  });

  it('a failing make is a failure (the legacy script ignored it)', async () => {
    const w = world();
    fakeMake(w, 2);
    mkdirSync(path.join(w.sysroot, `usr/src/falco-${DRIVER}/bpf`), { recursive: true });
    const result = await run(w, ['bpf', '--compile']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('* Compiling the eBPF probe failed (make exited with 2)');
    expect(result.stderr).toContain('Unable to load the falco eBPF probe');
    expect(existsSync(w.link)).toBe(false);
  });

  it('debugfs is mounted when tracing is missing; a failed mount is reported, not fatal', async () => {
    const w = world();
    w.bin.add('mount', "echo 'mount: /sys/kernel/debug: cannot mount nodev read-only.' >&2; exit 32");
    execFileSync('rm', ['-r', path.join(w.sysroot, 'sys/kernel/debug/tracing')]);
    server.routes.set(`/first${REMOTE}`, elfObject(247));
    const result = await run(w);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('* Mounting debugfs\n');
    expect(w.bin.calls()[0]).toBe(`mount -t debugfs nodev ${path.join(w.sysroot, 'sys/kernel/debug')}`);
    expect(result.stderr).toContain('Could not mount debugfs');
  });

  it('a 10.x driver has no legacy probe: one line suggesting modern_ebpf, nothing attempted', async () => {
    const w = world({ DRIVER_VERSION: '10.2.0+driver' });
    const result = await run(w);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^Driver version 10\.2\.0\+driver ships no legacy eBPF probe.*modern_ebpf/);
    expect(result.stdout).toBe('');
    expect(server.requests).toEqual([]);
  });
});

describe('kernel sources for the probe build (COS, minikube, BPF_USE_LOCAL_KERNEL_SOURCES)', () => {
  let signer: GpgSigner;
  beforeAll(() => {
    signer = new GpgSigner();
  });
  afterAll(() => signer.dispose());

  function tarball(files: Record<string, string>): Buffer {
    const dir = tempDir();
    writeTree(dir, files);
    const out = path.join(tempDir(), 'x.tar.gz');
    execFileSync('tar', ['-czf', out, '-C', dir, '.']);
    return readFileSync(out);
  }
  const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  /** The tarball and a sha256sums.asc listing it (signed by `by`, or as given), as kernel.org serves them. */
  function serveSources(body: Buffer, by: GpgSigner | string = signer, file = 'linux-5.10.57.tar.gz'): void {
    server.routes.set(`/kernel/v5.x/${file}`, body);
    const list = `${sha256(Buffer.from('other'))}  linux-5.10.tar.xz\n${sha256(body)}  ${file}\n`;
    server.routes.set('/kernel/v5.x/sha256sums.asc', Buffer.from(typeof by === 'string' ? by : by.clearsign(list)));
  }

  function minikube(): World {
    const w = world({}, 'ID=buildroot\n');
    writeTree(w.hostRoot, { 'etc/VERSION': 'v1.32.0-1700000000-17000\n' });
    w.env.DRIVER_KERNEL_RELEASE = '5.10.57';
    w.env.FALCO_DRIVER_LOADER_KERNEL_MIRROR = `${server.url}/kernel`;
    w.env.FALCO_DRIVER_LOADER_KERNEL_KEYS = signer.keyFile;
    writeTree(w.sysroot, { 'lib/modules/5.10.57/config': 'CONFIG_BPF=y\n' });
    const probe = path.join(tempDir(), 'probe.o');
    writeBpfObject(probe);
    w.env.FAKE_PROBE = probe;
    fakeMake(w);
    mkdirSync(path.join(w.sysroot, `usr/src/falco-${DRIVER}/bpf`), { recursive: true });
    return w;
  }

  it('kernel.org sums signed by another key: refused in one line, nothing downloaded or run (issue #13)', async () => {
    const w = minikube();
    const intruder = new GpgSigner('Intruder <x@example.invalid>');
    try {
      serveSources(tarball({ 'linux-5.10.57/Makefile': 'all:\n' }), intruder);
      const result = await run(w, ['bpf', '--compile']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /^Refusing the kernel sources: .*sha256sums\.asc does not verify \(it is signed by key [0-9A-F]+, which is not a trusted key\)/m,
      );
      expect(server.requests).not.toContain('GET /kernel/v5.x/linux-5.10.57.tar.gz');
      expect(w.bin.calls()).toEqual([]);
    } finally {
      intruder.dispose();
    }
  });

  it('a tarball that does not match the signed checksum is never unpacked or built (issue #13)', async () => {
    const w = minikube();
    serveSources(tarball({ 'linux-5.10.57/Makefile': 'all:\n' }));
    server.routes.set('/kernel/v5.x/linux-5.10.57.tar.gz', tarball({ 'linux-5.10.57/Makefile': 'evil:\n' }));
    const result = await run(w, ['bpf', '--compile']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/Refusing linux-5\.10\.57\.tar\.gz: its SHA-256 is [0-9a-f]{64}, not [0-9a-f]{64}/);
    expect(result.stderr).toContain('Unable to download the kernel sources');
    expect(w.bin.calls()).toEqual([]);
  });

  it('an http mirror with no signed sums: refused in one line naming the insecure opt-out (issue #13)', async () => {
    const w = minikube();
    server.routes.set('/kernel/v5.x/linux-5.10.57.tar.gz', tarball({ 'linux-5.10.57/Makefile': 'all:\n' }));
    server.routes.set('/kernel/v5.x/sha256sums.txt', Buffer.from('0  linux-5.10.57.tar.gz\n'));
    const result = await run(w, ['bpf', '--compile']);
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^Refusing the kernel sources: nothing can verify linux-5\.10\.57\.tar\.gz .*FALCO_DRIVER_LOADER_INSECURE_KERNEL_SOURCES=yes .*\(insecure\)$/,
    );
    expect(server.requests).not.toContain('GET /kernel/v5.x/linux-5.10.57.tar.gz');
    expect(server.requests).not.toContain('GET /kernel/v5.x/sha256sums.txt'); // unsigned over http is worthless
    expect(w.bin.calls()).toEqual([]);
  });

  it('FALCO_DRIVER_LOADER_INSECURE_KERNEL_SOURCES builds unverified sources, with a warning', async () => {
    const w = minikube();
    w.env.FALCO_DRIVER_LOADER_INSECURE_KERNEL_SOURCES = 'yes';
    server.routes.set('/kernel/v5.x/linux-5.10.57.tar.gz', tarball({ 'linux-5.10.57/Makefile': 'all:\n' }));
    const result = await run(w, ['bpf', '--compile']);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      /^\[WARNING\] FALCO_DRIVER_LOADER_INSECURE_KERNEL_SOURCES is set: .*WITHOUT any integrity check \(insecure\)$/m,
    );
  });

  it('a private file:// mirror may serve an unsigned sha256sums.txt instead (issue #13)', async () => {
    const w = minikube();
    const mirror = tempDir();
    const body = tarball({ 'linux-5.10.57/Makefile': 'all:\n' });
    writeTree(mirror, { 'v5.x/sha256sums.txt': `${sha256(body)}  linux-5.10.57.tar.gz\n` });
    writeFileSync(path.join(mirror, 'v5.x/linux-5.10.57.tar.gz'), body);
    w.env.FALCO_DRIVER_LOADER_KERNEL_MIRROR = `file://${mirror}`;
    const result = await run(w, ['bpf', '--compile']);
    expect(result.stderr).not.toMatch(/Refusing|WARNING|Unable/);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`* Using the mirror's checksum list file://${mirror}/v5.x/sha256sums.txt`);
  });

  it('the default kernel mirror is reached over https (CONNECT through the proxy, never a plain GET)', async () => {
    const w = minikube();
    delete w.env.FALCO_DRIVER_LOADER_KERNEL_MIRROR;
    const proxy = await startProxy('drop');
    w.env.HTTPS_PROXY = proxy.origin;
    w.env.HTTP_PROXY = proxy.origin;
    w.env.DRIVER_CURL_OPTIONS = '--retry 0 --max-time 2';
    const result = await run(w, ['bpf', '--compile']);
    expect(result.code).toBe(1);
    const seen = new Set(proxy.requests.map((r) => `${r.method} ${r.url}`));
    expect([...seen]).toEqual(['CONNECT mirrors.edge.kernel.org:443']);
    expect(result.stderr).toMatch(/^Refusing the kernel sources: nothing can verify linux-5\.10\.57\.tar\.gz/);
  });

  it('COS over plain http without kernel-headers.tgz.sha256: refused (issue #13)', async () => {
    const w = world({}, 'ID=cos\nBUILD_ID=16919.404.26\n');
    w.env.DRIVER_KERNEL_RELEASE = '6.1.90+';
    w.env.FALCO_DRIVER_LOADER_COS_TOOLS_URL = `${server.url}/cos-tools`;
    server.routes.set('/cos-tools/16919.404.26/kernel-headers.tgz', tarball({ 'usr/src/x/Makefile': '' }));
    fakeMake(w);
    const result = await run(w, ['bpf', '--compile']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^Refusing the kernel sources: nothing can verify kernel-headers\.tgz/);
    expect(server.requests).not.toContain('GET /cos-tools/16919.404.26/kernel-headers.tgz');
    expect(w.bin.calls()).toEqual([]);
  });

  it('minikube: vanilla sources from the mirror, the kernel config copied, configured, then make with KERNELDIR', async () => {
    const w = world({}, 'ID=buildroot\n');
    writeTree(w.hostRoot, { 'etc/VERSION': 'v1.32.0-1700000000-17000\n' });
    w.env.DRIVER_KERNEL_RELEASE = '5.10.57';
    w.env.FALCO_DRIVER_LOADER_KERNEL_MIRROR = `${server.url}/kernel`;
    w.env.FALCO_DRIVER_LOADER_KERNEL_KEYS = signer.keyFile;
    writeTree(w.sysroot, { 'lib/modules/5.10.57/config': 'CONFIG_BPF=y\nCONFIG_LOCALVERSION="x"\n' });
    serveSources(tarball({ 'linux-5.10.57/Makefile': 'all:\n' }));
    const probe = path.join(tempDir(), 'probe.o');
    writeBpfObject(probe);
    w.env.FAKE_PROBE = probe;
    fakeMake(w);
    mkdirSync(path.join(w.sysroot, `usr/src/falco-${DRIVER}/bpf`), { recursive: true });
    const result = await run(w, ['bpf', '--compile']);
    expect(result.stderr).not.toMatch(/Cannot|Unable|failed/);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      '* Minikube detected (v1.32.0-1700000000-17000), using linux kernel sources for minikube kernel',
    );
    expect(result.stdout).toContain(`* Found kernel config at ${path.join(w.sysroot, 'lib/modules/5.10.57/config')}`);
    const calls = w.bin.calls();
    expect(calls[0]).toMatch(/^make -C .*\/falco-kernel-\w+\/tree olddefconfig$/);
    expect(calls[1]).toMatch(/^make -C .*\/falco-kernel-\w+\/tree modules_prepare$/);
    expect(calls[2]).toBe(`make -C ${path.join(w.sysroot, `usr/src/falco-${DRIVER}/bpf`)}`);
    expect(readFileSync(path.join(w.bin.dir, 'make-env.log'), 'utf8')).toMatch(/KERNELDIR=.*falco-kernel-\w+\/tree/);
    // The work directory went under TMPDIR and is gone afterwards.
    expect(readdirSync(w.tmp)).toEqual([]);
  });

  it('COS: kernel-headers.tgz by BUILD_ID, the randstruct defines dropped, COS_73_WORKAROUND for new builds', async () => {
    const w = world({}, 'ID=cos\nBUILD_ID=16919.404.26\n');
    w.env.DRIVER_KERNEL_RELEASE = '6.1.90+';
    w.env.FALCO_DRIVER_LOADER_COS_TOOLS_URL = `${server.url}/cos-tools`;
    const headers = tarball({
      'usr/src/linux-headers-6.1.90+/include/linux/compiler-clang.h':
        '#pragma once\n#define randomized_struct_fields_start struct {\n#define randomized_struct_fields_end };\nint keep;\n',
    });
    server.routes.set('/cos-tools/16919.404.26/kernel-headers.tgz', headers);
    server.routes.set('/cos-tools/16919.404.26/kernel-headers.tgz.sha256', Buffer.from(`${sha256(headers)}\n`));
    const probe = path.join(tempDir(), 'probe.o');
    writeBpfObject(probe);
    w.env.FAKE_PROBE = probe;
    fakeMake(w);
    mkdirSync(path.join(w.sysroot, `usr/src/falco-${DRIVER}/bpf`), { recursive: true });
    const result = await run(w, ['bpf', '--compile']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('* COS detected (build 16919.404.26), using COS kernel headers');
    const envLog = readFileSync(path.join(w.bin.dir, 'make-env.log'), 'utf8');
    expect(envLog).toMatch(
      /KERNELDIR=.*\/usr\/src\/linux-headers-6\.1\.90\+ KBUILD_EXTRA_CPPFLAGS=-DCOS_73_WORKAROUND/,
    );
    const header = readFileSync(path.join(w.bin.dir, 'header.log'), 'utf8');
    expect(header).toContain('int keep;');
    expect(header).not.toContain('randomized_struct_fields');
  });

  it('BPF_USE_LOCAL_KERNEL_SOURCES without a kernel config: the legacy error, exit 1', async () => {
    const w = world({ BPF_USE_LOCAL_KERNEL_SOURCES: '1' });
    fakeMake(w);
    const result = await run(w, ['bpf', '--compile']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Cannot find kernel config');
  });

  it('kernel sources that cannot be downloaded abandon the compile with the legacy line', async () => {
    const w = world({ BPF_USE_LOCAL_KERNEL_SOURCES: '1', FALCO_DRIVER_LOADER_KERNEL_MIRROR: `${server.url}/none` });
    w.env.FALCO_DRIVER_LOADER_KERNEL_KEYS = signer.keyFile;
    server.routes.set(
      '/none/v5.x/sha256sums.asc',
      Buffer.from(signer.clearsign(`${'0'.repeat(64)}  linux-5.15.tar.gz\n`)),
    );
    writeTree(w.sysroot, { [`boot/config-${RELEASE}`]: 'CONFIG_BPF=y\n' });
    fakeMake(w);
    const result = await run(w, ['bpf', '--compile']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('* Using downloaded kernel sources for kernel version 5.15.0...');
    expect(result.stderr).toContain('Unable to download the kernel sources');
    expect(w.bin.calls()).toEqual([]);
    expect(readdirSync(w.tmp)).toEqual([]);
  });
});

describe('modern_ebpf', () => {
  it('supported: one success line, exit 0', async () => {
    const w = world({ DRIVER_KERNEL_RELEASE: '6.1.0-13-amd64' });
    writeTree(w.sysroot, { 'sys/kernel/btf/vmlinux': 'BTF' });
    const result = await run(w, ['modern_ebpf'], async (ctx) => runModernEbpf(ctx));
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    expect(result.stdout).toMatch(/^\* Success: modern_ebpf can run on this kernel/);
  });

  it('unsupported: one line per missing requirement, exit 1', async () => {
    const w = world({ DRIVER_KERNEL_RELEASE: '5.4.0-150-generic' });
    writeTree(w.sysroot, { 'sys/kernel/security/lockdown': 'none integrity [confidentiality]\n' });
    const result = await run(w, ['modern_ebpf'], async (ctx) => runModernEbpf(ctx));
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/older than 5\.8/);
    expect(lines[1]).toMatch(/BTF/);
    expect(lines[2]).toMatch(/confidentiality/);
  });
});

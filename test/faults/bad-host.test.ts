import { chmodSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { driverRequests } from '../helpers/httpServer.js';
import { tempDir } from '../helpers/tmp.js';
import { moduleFor } from '../kmod/modules.js';
import {
  expectLine,
  expectNoStack,
  FaultHost,
  FILE,
  goodServer,
  isRoot,
  MARGIN_MS,
  runLoader,
  URL_PATH,
} from './harness.js';

/**
 * Bad host state (issue #8), through the real CLI as root: HOST_ROOT and its os-release, HOME, TMPDIR and the cache
 * itself. Each says in one line what is wrong, falls through as the flow says, and writes nowhere else.
 */
const UNSUPPORTED = /^Detected an unsupported target system, please get in touch with the Falco community\.$/;

describe.runIf(isRoot)('HOST_ROOT and its os-release', () => {
  it.each([
    ['missing', (k: FaultHost) => path.join(k.tmp, 'nope'), /^HOST_ROOT=.*\/nope does not exist: mount the host's/],
    ['a file', (k: FaultHost) => k.fileAt('os-release'), /^HOST_ROOT=.*\/os-release is not a directory/],
  ])('HOST_ROOT %s: one line, exit 1, nothing run', async (_name, hostRoot, line) => {
    const k = new FaultHost();
    const result = await runLoader([], k.env({ HOST_ROOT: hostRoot(k) }));
    expectLine(result.stderr, line);
    expect(result.stderr.split('\n')).toHaveLength(2);
    expect(result.code).toBe(1);
    expect(k.calls()).toEqual([]);
    expect(readdirSync(k.home)).toEqual([]);
  });

  const garbage = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37 + 128) % 256).filter((b) => b !== 61));
  it.each([
    ['binary garbage', garbage],
    ['10 MB long', Buffer.alloc(10 * 1024 * 1024, 'NAME=x ')],
    ['without ID', Buffer.from('NAME="Some Linux"\nVERSION_ID=1\n')],
    ['with ID=$(touch …)', (marker: string) => Buffer.from(`ID=$(touch ${marker})\n`)],
    [
      'with ID="$(touch …)"',
      (marker: string) => Buffer.from(`ID="$(touch ${marker})"\nVERSION_ID=\`touch ${marker}\`\n`),
    ],
  ])('an os-release %s is never run: undetermined target, one line, exit 1', async (_name, content) => {
    const k = new FaultHost();
    const marker = path.join(k.tmp, 'pwned');
    const text = typeof content === 'function' ? content(marker) : content;
    writeFileSync(path.join(k.hostRoot, 'etc/os-release'), text);
    const result = await runLoader(['--download'], k.env());
    expect(result.ms).toBeLessThan(MARGIN_MS);
    expectLine(result.stderr, UNSUPPORTED);
    expect(result.stderr.split('\n')).toHaveLength(2);
    expect(result.code).toBe(1);
    expect(readdirSync(k.tmp)).toEqual([]);
    expect(k.calls()).toEqual([]);
  });
});

describe.runIf(isRoot)('HOME and the cache', () => {
  /** Each way of making $HOME/.falco unwritable, for root too. */
  const UNWRITABLE: ReadonlyArray<readonly [string, (k: FaultHost) => { home: string; wrap: string[] }]> = [
    ['a regular file', (k) => ({ home: k.fileAt('home'), wrap: [] })],
    ['under a regular file', (k) => ({ home: path.join(k.fileAt('home'), 'sub'), wrap: [] })],
    [
      'a read-only directory (root without CAP_DAC_OVERRIDE, via setpriv)',
      (k) => {
        const home = path.join(k.scratch, 'home');
        mkdirSync(home, { mode: 0o555 });
        chmodSync(home, 0o555);
        return { home, wrap: ['/usr/bin/setpriv', '--bounding-set=-dac_override,-dac_read_search', '--'] };
      },
    ],
  ];

  it.each(UNWRITABLE)('HOME is %s: one download line, no other repository, then the next source', async (_n, make) => {
    const k = new FaultHost();
    const { home, wrap } = make(k);
    const server = await goodServer(k);
    const env = k.env({ HOME: home, DRIVERS_REPO: `${server.origin}/a,${server.origin}/b` });
    const result = await runLoader(['--download'], env, wrap);
    expectLine(result.stderr, /^Download failed: cannot create .*\/\.falco\/6\.0\.1\+driver\/x86_64: E[A-Z]+: [^,]+$/);
    expect(result.stderr).toMatch(/^\[WARNING\] Cannot use the lock file .*\/\.falco\/\.lock \(E[A-Z]+\): running/m);
    expect(result.stdout).toMatch(/\* Trying to load a system falco module, if present\n$/);
    expect(result.stdout.match(/\* Trying to download/g)).toHaveLength(1);
    expect(server.requests).toHaveLength(0);
    expect(result.code).toBe(1);
    expect(readdirSync(k.scratch)).toEqual(['home']);
    expect(readdirSync(k.tmp)).toEqual([]);
  });

  it('a cache directory that is a file: one line, the file untouched, exit 1', async () => {
    const k = new FaultHost();
    mkdirSync(path.dirname(k.cacheDir()), { recursive: true });
    writeFileSync(k.cacheDir(), 'not a directory');
    const server = await goodServer(k);
    const result = await runLoader(['--download'], k.env({ DRIVERS_REPO: `${server.origin}/a ${server.origin}/b` }));
    expectLine(result.stderr, /^Download failed: cannot create .*\/x86_64: E(EXIST|NOTDIR): [^,]+$/);
    expect(server.requests).toHaveLength(0);
    expect(result.code).toBe(1);
    expect(readFileSync(k.cacheDir(), 'utf8')).toBe('not a directory');
  });

  it('a cache entry that is a symlink to a file elsewhere: the link is replaced, the file never written', async () => {
    const k = new FaultHost();
    const victim = path.join(tempDir('fdl-victim-'), 'precious');
    writeFileSync(victim, 'precious data\n');
    mkdirSync(k.cacheDir(), { recursive: true });
    symlinkSync(victim, path.join(k.cacheDir(), FILE));
    const server = await goodServer(k);
    const result = await runLoader([], k.env({ DRIVERS_REPO: server.origin }));
    expectLine(
      result.stderr,
      /^The cached falco module .* is not usable \(it is a symbolic link, not a regular file\): removed it, trying the next/,
    );
    expect(result.code).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('precious data\n');
    expect(driverRequests(server).map((r) => r.url)).toEqual([URL_PATH]);
    k.expectCache('valid');
  });

  it('a dangling symlink in the cache: the download replaces the link and creates nothing at its target', async () => {
    const k = new FaultHost();
    const target = path.join(tempDir('fdl-victim-'), 'would-be-created');
    mkdirSync(k.cacheDir(), { recursive: true });
    symlinkSync(target, path.join(k.cacheDir(), FILE));
    const server = await goodServer(k);
    const result = await runLoader([], k.env({ DRIVERS_REPO: server.origin }));
    expectNoStack(result.stderr);
    expect(result.code).toBe(0);
    expect(readdirSync(path.dirname(target))).toEqual([]);
    k.expectCache('valid');
  });
});

describe.runIf(isRoot)('TMPDIR', () => {
  it.each([
    ['missing', (k: FaultHost) => path.join(k.tmp, 'gone')],
    ['a file', (k: FaultHost) => k.fileAt('tmp-file')],
  ])('TMPDIR %s: one line, the dkms build skipped, then modprobe, exit 1', async (_name, tmpdir) => {
    const k = new FaultHost({ without: [] });
    k.headers();
    const result = await runLoader(['--compile'], k.env({ TMPDIR: tmpdir(k), FAKE_DKMS_MODULE: moduleFor(k.release) }));
    expectLine(result.stderr, /^TMPDIR .* cannot be used \((ENOENT|not a directory)\): the dkms build writes its work/);
    expect(k.callsOf('dkms').filter((c) => c.startsWith('dkms install'))).toEqual([]);
    expect(result.stdout).toMatch(/\* Trying to load a system falco module, if present\n$/);
    expect(result.code).toBe(1);
  });
});

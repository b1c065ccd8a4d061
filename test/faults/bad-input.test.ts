import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startServer } from '../helpers/httpServer.js';
import type { Outcome } from '../helpers/run.js';
import { moduleFor } from '../kmod/modules.js';
import { expectNoStack, FaultHost } from './harness.js';

/**
 * Bad input in the environment and on the command line (issue #8): one clear line on stderr, exit 1, no stack
 * trace, and nothing done: no program started (so no module unloaded), nothing created in HOME or TMPDIR.
 * In-process (main() with the simulated kernel): all of it fails before any child process would change a thing,
 * and a NUL byte cannot even be put into a child's environment.
 */
function expectRefused(k: FaultHost, result: Outcome, line: RegExp): void {
  expectNoStack(result.stderr);
  expect(result.stderr).toMatch(/^[^\n]*\n$/);
  expect(result.stderr.trimEnd()).toMatch(line);
  expect(result.stderr.length).toBeLessThan(400);
  expect(result.code).toBe(1);
  expect(k.calls()).toEqual([]);
  expect(readdirSync(k.home)).toEqual([]);
  expect(readdirSync(k.tmp)).toEqual([]);
}

const FOUR_KB = 'x'.repeat(4096);
/** [title, value]: 4 KB of x would make a 4 KB test title. */
const cases = (values: string[]) => values.map((v) => [v === FOUR_KB ? '4 KB of text' : JSON.stringify(v), v]);

describe('DRIVER_NAME and DRIVER_VERSION', () => {
  it.each(cases(['fal/co', '..', '../../etc', 'fal co', 'fal\0co', 'fal\nco', FOUR_KB]))(
    'DRIVER_NAME=%s',
    async (_title, name) => {
      const k = new FaultHost();
      const result = await k.run([], k.env({ DRIVER_NAME: name }));
      expectRefused(k, result, /^Invalid driver name ".{1,80}" from environment \(DRIVER_NAME\): use 1-64 letters/);
    },
  );

  it.each(cases(['6.0.1/../../etc', '..', '6.0..1', '6.0.1 driver', '6.0.1\0', '6.0.1\r', FOUR_KB]))(
    'DRIVER_VERSION=%s',
    async (_title, version) => {
      const k = new FaultHost();
      const result = await k.run([], k.env({ DRIVER_VERSION: version }));
      const line = /^Invalid driver version ".{1,80}" from environment \(DRIVER_VERSION\): expected a version/;
      expectRefused(k, result, line);
    },
  );
});

describe('DRIVERS_REPO', () => {
  it.each([
    ['not-a-url', /^DRIVERS_REPO entry "not-a-url" is not a URL: use https:\/\/host\/path, http:\/\/host\/path/],
    [
      'ftp://mirror.example/falco',
      /^DRIVERS_REPO entry "ftp:\/\/mirror\.example\/falco" uses the unsupported scheme ftp/,
    ],
    ['gopher://bob:s3cret@mirror.example/', /^DRIVERS_REPO entry "gopher:\/\/\*\*\*@mirror\.example\/" uses the/],
    ['http://bob:s3cret@[::1', /^DRIVERS_REPO entry "http:\/\/\*\*\*@\[::1" is not a URL/],
    // WHATWG URLs refuse credentials in a file URL, so this never reaches the remote-host check.
    ['file://bob:s3cret@fileserver/srv', /^DRIVERS_REPO entry "file:\/\/\*\*\*@fileserver\/srv" is not a URL/],
    ['file://fileserver/srv', /^DRIVERS_REPO entry "file:\/\/fileserver\/srv" names a remote host in a file URL/],
    [', ,', /^DRIVERS_REPO lists no repository: give at least one URL, or unset it to use https:\/\/download\.falco/],
  ])('%s', async (repos, line) => {
    const k = new FaultHost();
    const result = await k.run([], k.env({ DRIVERS_REPO: repos }));
    expectRefused(k, result, line);
    expect(`${result.stdout}${result.stderr}`).not.toContain('s3cret');
  });

  it('credentials in the URL are accepted, sent as Basic auth, and never printed', async () => {
    const k = new FaultHost();
    const server = await startServer((_req, res) => res.writeHead(404).end());
    const repo = server.origin.replace('http://', 'http://bob:s3cret@');
    const result = await k.run(['--download'], k.env({ DRIVERS_REPO: repo }));
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`from http://***@127.0.0.1:${server.port}/6.0.1%2Bdriver/`);
    expect(`${result.stdout}${result.stderr}`).not.toContain('s3cret');
    expect(server.requests[0]?.headers.authorization).toBe(`Basic ${Buffer.from('bob:s3cret').toString('base64')}`);
  });
});

describe('DRIVER_CURL_OPTIONS never reaches a shell', () => {
  const syntax = (what: string, at: number) =>
    new RegExp(
      `^DRIVER_CURL_OPTIONS contains shell syntax \\('${what}' at character ${at}\\): it is never run by a shell`,
    );
  it.each([
    ['-H "X-Token: abc', /^DRIVER_CURL_OPTIONS has an unbalanced quote: the double quote at character 4 is never/],
    ["-H 'X-Token: abc", /^DRIVER_CURL_OPTIONS has an unbalanced quote: the single quote at character 4 is never/],
    ['; rm -rf /', syntax(';', 1)],
    ['-m 5 && touch MARKER', syntax('&', 6)],
    ['-m 5 | sh', syntax('\\|', 6)],
    ['-m 5 > MARKER', syntax('>', 6)],
    ['-m $(touch MARKER)', syntax('\\$\\(', 4)],
    ['-m `touch MARKER`', syntax('`', 4)],
    ['-H "X-Token: $(touch MARKER)"', syntax('\\$\\(', 14)],
  ])('%s', async (options, line) => {
    const k = new FaultHost();
    const marker = path.join(k.tmp, 'MARKER');
    const result = await k.run([], k.env({ DRIVER_CURL_OPTIONS: options.replace('MARKER', marker) }));
    expectRefused(k, result, line);
    expect(result.stderr).not.toContain('abc');
    expect(existsSync(marker)).toBe(false);
  });

  it('single-quoted, the same text is a literal header value: sent as is, nothing run', async () => {
    const k = new FaultHost();
    const marker = path.join(k.tmp, 'MARKER');
    const server = await startServer((_req, res) => res.writeHead(404).end());
    const options = `-H 'X-Probe: $(touch ${marker}); \`touch ${marker}\`'`;
    const result = await k.run(['--download'], k.env({ DRIVERS_REPO: server.origin, DRIVER_CURL_OPTIONS: options }));
    expect(server.requests[0]?.headers['x-probe']).toBe(`$(touch ${marker}); \`touch ${marker}\``);
    expect(existsSync(marker)).toBe(false);
    expect(result.code).toBe(1);
  });

  it('a FALCO_DRIVER_LOADER_MAX_DOWNLOAD_BYTES that is not a number is refused before anything is done', async () => {
    const k = new FaultHost();
    const result = await k.run([], k.env({ FALCO_DRIVER_LOADER_MAX_DOWNLOAD_BYTES: '2G' }));
    expectRefused(k, result, /^FALCO_DRIVER_LOADER_MAX_DOWNLOAD_BYTES must be a whole number of bytes .*, got '2G'$/);
  });
});

describe('kernel release and version strings', () => {
  it.each([
    ['6.1.0 13-amd64', /^Invalid kernel release "6\.1\.0 13-amd64": a kernel release, as uname -r prints it, has no/],
    ['6.1.0/../../x', /^Invalid kernel release "6\.1\.0\/\.\.\/\.\.\/x": /],
    ['6.1.0-\u001b[31mred', /^Invalid kernel release "6\.1\.0-\\u001b\[31mred": /],
    [FOUR_KB, /^Invalid kernel release "x{64}…": /],
    // Debian rebuilds the fixed release from the version string: only the raw one carried these (issue #13).
    [
      '../../../etc',
      /^Invalid kernel release "\.\.\/\.\.\/\.\.\/etc": .*\(from environment \(DRIVER_KERNEL_RELEASE\)\)$/,
    ],
    ['--help', /^Invalid kernel release "--help": .*leading '-'/],
  ])('DRIVER_KERNEL_RELEASE=%# is refused', async (release, line) => {
    const k = new FaultHost();
    const result = await k.run([], k.env({ DRIVER_KERNEL_RELEASE: release }));
    expectRefused(k, result, line);
  });

  it('on Debian a raw release with ../ is refused before the Cleaning phase (issue #13)', async () => {
    const k = new FaultHost();
    writeFileSync(path.join(k.hostRoot, 'etc/os-release'), 'ID=debian\nVERSION_ID="12"\n');
    const env = k.env({
      DRIVER_KERNEL_RELEASE: '6.1.0-13-amd64/../../../../tmp/x',
      DRIVER_KERNEL_VERSION: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)',
    });
    expectRefused(k, await k.run([], env), /^Invalid kernel release "6\.1\.0-13-amd64\/\.\.\//);
  });

  it('--kernel-release=--help is refused as a release, not taken as an option (issue #13)', async () => {
    const k = new FaultHost();
    expectRefused(k, await k.run(['--kernel-release=--help'], k.env()), /^Invalid kernel release "--help": /);
  });
});

describe('HTTP headers (issue #13)', () => {
  it.each([
    ['--http-headers', ['--http-headers', 'X-A: 1\r\nX-Injected: 2'], {}],
    ['FALCOCTL_DRIVER_HTTP_HEADERS', [], { FALCOCTL_DRIVER_HTTP_HEADERS: 'X-A: 1\nX-Injected: 2' }],
  ])('CR/LF in %s: refused with the other bad input, before anything is unloaded', async (_n, argv, extra) => {
    const k = new FaultHost();
    const result = await k.run(argv, k.env(extra));
    expectRefused(
      k,
      result,
      /^Invalid HTTP header X-A \(item 1 of 1\) in --http-headers: its value contains a control character/,
    );
  });

  it('CR/LF in DRIVER_CURL_OPTIONS -H: refused the same way', async () => {
    const k = new FaultHost();
    const result = await k.run([], k.env({ DRIVER_CURL_OPTIONS: "-H 'X-A: 1\r\nX-B: 2'" }));
    expectRefused(k, result, /^DRIVER_CURL_OPTIONS: -H X-A: its value contains a control character/);
  });

  it.each([
    ['5.15.133+', '#1 SMP', '5.15.133%2B', '1'],
    ['5.15.0-1~22.04', '#1~22.04.1-Ubuntu SMP', '5.15.0-1~22.04', '1'],
    ['6.1.0-ünïcode', '#7 SMP ünï ~+', '6.1.0-%C3%BCn%C3%AFcode', '7'],
    ['6.1.0-13', 'SMP PREEMPT ü+', '6.1.0-13', 'SMP%20PREEMPT%20%C3%BC%2B'],
  ])('%j / %j: accepted, percent-encoded in the URL, raw in the cache', async (release, version, inUrl, urlVersion) => {
    const k = new FaultHost();
    const good = readFileSync(moduleFor(release));
    const requested: string[] = [];
    const server = await startServer((req, res) => {
      requested.push(req.url ?? '');
      res.writeHead(200, { 'content-length': String(good.length) }).end(good);
    });
    const env = k.env({ DRIVERS_REPO: server.origin, DRIVER_KERNEL_RELEASE: release, DRIVER_KERNEL_VERSION: version });
    const result = await k.run([], env);
    expect(result.code).toBe(0);
    expect(requested).toEqual([
      `/6.0.1%2Bdriver/x86_64/falco_centos_${inUrl}_${urlVersion}.ko`,
      '/6.0.1%2Bdriver/x86_64/SHA256SUMS',
    ]);
    const cached = readdirSync(k.cacheDir());
    expect(cached).toEqual([`falco_centos_${release}_${decodeURIComponent(urlVersion)}.ko`]);
    expect(readFileSync(path.join(k.cacheDir(), cached[0] as string)).equals(good)).toBe(true);
    expect(k.loaded()).toEqual(['falco']);
  });
});

describe('unknown words and options', () => {
  it.each([
    [['kmodule'], /^Unknown driver: kmodule$/, true],
    [['--force'], /^Unknown option: --force$/, true],
    [['--compile=yes'], /^Unknown option: --compile=yes$/, true],
    [['--kernel-release'], /^Option --kernel-release needs a value$/, true],
    [['module', 'bpf'], /^Only one driver per invocation$/, true],
    [['--clean', '--download'], /^Cannot use --clean with other options$/, false],
    [['mod\nule'], /^Unknown driver: "mod\\nule"$/, true],
    [['--x\u001b]0;owned\u0007'], /^Unknown option: "--x\\u001b\]0;owned\\u0007"$/, true],
    [[`--${FOUR_KB}`], /^Unknown option: "--x{62}…"$/, true],
  ])('%#: %s', async (argv, line, usage) => {
    const k = new FaultHost();
    const result = await k.run(argv, k.env());
    expectRefused(k, result, line);
    expect(result.stdout.includes('Usage:')).toBe(usage);
  });
});

import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { elfObject } from '../ebpf/fixtures.js';
import { startServer } from '../helpers/httpServer.js';
import { isLocked } from '../helpers/lock.js';
import {
  expectLine,
  FaultHost,
  isRoot,
  leftovers,
  MARGIN_MS,
  PER_REPO_MS,
  runLoader,
  start,
  until,
} from './harness.js';

/**
 * The legacy eBPF probe flow under the same faults (issue #8): each repository in turn, the first valid probe wins,
 * the cache holds a complete BPF object or nothing, and `$HOME/.falco/falco-bpf.o` points at it.
 */
const PROBE = 'falco_centos_6.1.0-13-amd64_1.o';
const PROBE_PATH = `/6.0.1%2Bdriver/x86_64/${PROBE}`;
const GOOD_PROBE = elfObject(247);

function ebpfHost(): FaultHost {
  const k = new FaultHost();
  mkdirSync(path.join(k.sysroot, 'sys/kernel/debug/tracing'), { recursive: true }); // debugfs is mounted
  return k;
}

/** The probe cache: exactly the valid probe, or nothing; no temp files, no lock. */
function expectProbeCache(k: FaultHost, state: 'valid' | 'empty'): void {
  const entries = existsSync(k.cacheDir()) ? readdirSync(k.cacheDir()) : [];
  if (state === 'empty') {
    expect(entries).toEqual([]);
  } else {
    expect(entries).toEqual([PROBE]);
    expect(readFileSync(path.join(k.cacheDir(), PROBE)).equals(GOOD_PROBE)).toBe(true);
    expect(readlinkSync(path.join(k.home, '.falco', 'falco-bpf.o'))).toBe(path.join(k.cacheDir(), PROBE));
  }
  expect([...leftovers(k.home), ...leftovers(k.tmp)]).toEqual([]);
  expect(isLocked(path.join(k.home, '.falco', '.lock'))).toBe(false);
}

/** One server playing several repositories: /<repo>/<probe path> answered by `replies[repo]`, the rest 404. */
function repos(replies: Record<string, (res: http.ServerResponse) => void>) {
  return startServer((req, res) => {
    const [, repo = '', ...rest] = (req.url ?? '').split('/');
    const reply = replies[repo];
    if (reply === undefined || `/${rest.join('/')}` !== PROBE_PATH) res.writeHead(404).end();
    else reply(res);
  });
}

describe.runIf(isRoot)('eBPF probe download faults', () => {
  it('404, then an HTML page with 200, then a body cut short: each refused in one line; the fourth wins', async () => {
    const k = ebpfHost();
    const server = await repos({
      html: (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>Sign in</html>\n'),
      cut: (res) => {
        res.writeHead(200, { 'content-length': '64000' });
        res.write(GOOD_PROBE, () => res.socket?.destroy());
      },
      good: (res) => res.writeHead(200, { 'content-length': String(GOOD_PROBE.length) }).end(GOOD_PROBE),
    });
    const names = ['missing', 'html', 'cut', 'good'];
    const result = await runLoader(
      ['bpf'],
      k.env({ DRIVERS_REPO: names.map((n) => `${server.origin}/${n}`).join(',') }),
    );
    expect(result.ms).toBeLessThan(3 * PER_REPO_MS + MARGIN_MS);
    expectLine(result.stderr, /^Download failed: HTTP 404 Not Found$/);
    expectLine(result.stderr, /^Download failed: it is an HTML\/XML page, not an eBPF object/);
    expectLine(result.stderr, /^Download failed: connection closed after \d+ of 64000 bytes/);
    expect(result.stderr.match(/^Unable to find a prebuilt falco eBPF probe$/gm)).toHaveLength(3);
    const tried = names.map(
      (n) => `* Trying to download a prebuilt eBPF probe from ${server.origin}/${n}${PROBE_PATH}`,
    );
    expect(result.stdout).toContain(tried.join('\n'));
    expect(result.stdout).toContain('* Success: eBPF probe symlinked to');
    expect(result.code).toBe(0);
    expectProbeCache(k, 'valid');
  });

  it('a 2 GiB body: refused at the size limit, nothing cached, exit 1', async () => {
    const k = ebpfHost();
    const server = await repos({
      big: (res) => {
        res.writeHead(200, { 'content-length': String(2 * 1024 ** 3) });
        res.write(Buffer.alloc(100));
      },
    });
    const result = await runLoader(['bpf', '--download'], k.env({ DRIVERS_REPO: `${server.origin}/big` }));
    expectLine(result.stderr, /^Download failed: the server announced 2147483648 bytes, more than the limit of/);
    expect(result.stderr).toMatch(/^Unable to load the falco eBPF probe$/m);
    expect(result.code).toBe(1);
    expectProbeCache(k, 'empty');
  });

  it('the cache cannot be written: one line, the other repositories are not tried', async () => {
    const k = ebpfHost();
    const server = await repos({});
    const home = k.fileAt('home');
    const result = await runLoader(
      ['bpf', '--download'],
      k.env({ HOME: home, DRIVERS_REPO: `${server.origin}/a,${server.origin}/b` }),
    );
    expectLine(result.stderr, /^Download failed: cannot create .*: ENOTDIR: not a directory$/);
    expect(server.requests).toHaveLength(0);
    expect(result.code).toBe(1);
    expect(readFileSync(home, 'utf8')).toBe('not a directory\n');
  });

  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s during the download: temp file removed, lock released',
    async (signal) => {
      const k = ebpfHost();
      const server = await repos({
        slow: (res) => {
          res.writeHead(200, { 'content-length': '100000' });
          res.write(Buffer.alloc(100, 0x7f));
        },
      });
      const run = start(['bpf'], k.env({ DRIVERS_REPO: `${server.origin}/slow`, DRIVER_CURL_OPTIONS: '-m 30' }));
      const parts = () =>
        (existsSync(k.cacheDir()) ? readdirSync(k.cacheDir()) : []).filter((f) => f.includes('.part'));
      await until(() => parts().length === 1, 'the temp file of the download');
      run.child.kill(signal);
      const result = await run.done;
      expect(result.code).toBe(signal === 'SIGTERM' ? 143 : 130);
      expect(result.stderr).toBe(`falco-driver-loader: interrupted by ${signal}\n`);
      expectProbeCache(k, 'empty');
    },
  );
});

describe.runIf(isRoot)('eBPF probe build faults', () => {
  it.each([
    ['missing', (k: FaultHost) => path.join(k.tmp, 'gone')],
    ['a file', (k: FaultHost) => k.fileAt('tmp')],
  ])('TMPDIR %s while kernel sources are needed: one line, no crash, exit 1', async (_name, tmpdir) => {
    const k = ebpfHost();
    const env = k.env({ TMPDIR: tmpdir(k), BPF_USE_LOCAL_KERNEL_SOURCES: '1' });
    const result = await runLoader(['bpf', '--compile'], env);
    expectLine(result.stderr, /^TMPDIR .* cannot be used \((ENOENT|not a directory)\): the eBPF probe build writes/);
    expect(result.stderr).toMatch(/^Unable to load the falco eBPF probe$/m);
    expect(result.code).toBe(1);
  });
});

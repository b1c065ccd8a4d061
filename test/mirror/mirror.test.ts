import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { usage } from '../../src/cli/usage.js';
import { MIRROR_USAGE, parseMirrorArgs } from '../../src/mirror/args.js';
import type { FileOutcome } from '../../src/mirror/fetch.js';
import { neededFiles, parsePlans } from '../../src/mirror/plans.js';
import { MirrorProgress } from '../../src/mirror/report.js';
import { type MirrorIo, runMirror } from '../../src/mirror/run.js';
import { elfObject } from '../ebpf/fixtures.js';
import { startServer } from '../helpers/httpServer.js';
import { runMain } from '../helpers/run.js';
import { tempDir } from '../helpers/tmp.js';
import { moduleFor } from '../kmod/modules.js';

const V = '7.0.0+driver';
const row = (target: string, release: string, kind = '') =>
  `${target} ${release} 1 x86_64 falco ${V}${kind === '' ? '' : ` ${kind}`}`;
const plan = (node: string, target: string, release: string, kind = 'kmod') =>
  JSON.stringify({
    schemaVersion: 1,
    host: { name: { value: node, source: 'environment (NODE_NAME)' } },
    target: { targetId: target, fixedKernelRelease: release, fixedKernelVersion: '1', arch: 'x86_64' },
    driver: { kind, name: { value: 'falco', source: 'x' }, version: { value: V, source: 'x' } },
  });

describe('mirror plans (issue 19)', () => {
  it('reads JSON lines and rows, skips comments, and merges duplicates across hosts', () => {
    const rows = parsePlans(
      [
        '# collected on Monday',
        plan('node-a', 'debian', '6.1.55-1-amd64'),
        plan('node-b', 'debian', '6.1.55-1-amd64'),
        '',
        row('ubuntu-generic', '5.15.0-91-generic', 'all'),
        plan('node-c', 'debian', '6.1.55-1-amd64', 'modern_ebpf'),
      ].join('\n'),
    );
    expect(rows.map((r) => [r.host, r.exts])).toEqual([
      ['node-a', ['.ko']],
      ['node-b', ['.ko']],
      ['line 5', ['.ko', '.o']],
      ['node-c', []],
    ]);
    const files = neededFiles(rows, ['https://u:p@up.example/driver'], '/srv/m');
    expect([...files.keys()]).toEqual([
      `${V}/x86_64/falco_debian_6.1.55-1-amd64_1.ko`,
      `${V}/x86_64/falco_ubuntu-generic_5.15.0-91-generic_1.ko`,
      `${V}/x86_64/falco_ubuntu-generic_5.15.0-91-generic_1.o`,
    ]);
    const first = files.get(`${V}/x86_64/falco_debian_6.1.55-1-amd64_1.ko`);
    expect([...(first?.hosts ?? [])]).toEqual(['node-a', 'node-b']);
    expect(first?.urls).toEqual([
      `https://u:p@up.example/driver/7.0.0%2Bdriver/x86_64/falco_debian_6.1.55-1-amd64_1.ko`,
    ]);
  });

  it.each([
    [row('debian', '../../etc', ''), /^plans line 1: Invalid kernel release "\.\.\/\.\.\/etc"/],
    ['debian 6.1 1 x86_64 falco ../7', /^plans line 1: invalid driver version "\.\.\/7"/],
    ['debian 6.1 1 x86/64 falco 7.0.0', /^plans line 1: invalid architecture "x86\/64"/],
    ['debian 6.1 1 x86_64 fal/co 7.0.0', /^plans line 1: invalid driver name "fal\/co"/],
    ['debian 6.1 1 x86_64 falco', /^plans line 1: expected 6 or 7 fields .*, got 5$/],
    ['debian 6.1 1 x86_64 falco 7.0.0 module', /^plans line 1: driver kind "module" must be kmod, ebpf or all$/],
    ['{"schemaVersion":2}', /^plans line 1: schemaVersion 2 is not one this version reads \(1\)/],
    ['{"schemaVersion":1', /^plans line 1: not valid JSON/],
    [JSON.stringify({ schemaVersion: 1, target: {} }), /^plans line 1: target\.targetId is missing or not a string$/],
    ['# nothing\n', /^The plans hold no plan/],
  ])('refuses %j in one line before any request', (text, message) => {
    expect(() => parsePlans(text)).toThrow(message);
  });

  it('options: required ones, bounded concurrency, repeatable --repo', () => {
    expect(() => parseMirrorArgs(['--out', 'x'])).toThrow(/^mirror needs --plans/);
    expect(() => parseMirrorArgs(['--plans', '-'])).toThrow(/^mirror needs --out/);
    expect(() => parseMirrorArgs(['--plans', '-', '--out', 'x', '--concurrency', '0'])).toThrow(/1 to 32/);
    expect(() => parseMirrorArgs(['--plans', '-', '--out', 'x', '--bogus'])).toThrow(/^Unknown mirror option/);
    const a = parseMirrorArgs(['--plans=-', '--out', 'x', '--repo', 'http://a', '--repo=http://b', '--allow-partial']);
    expect(a).toMatchObject({
      plans: '-',
      out: 'x',
      repos: ['http://a', 'http://b'],
      concurrency: 4,
      allowPartial: true,
    });
  });
});

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

async function mirror(argv: string[], stdin = '', env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  let stdout = '';
  let stderr = '';
  const io: MirrorIo = {
    out: (t) => {
      stdout += t;
    },
    err: (t) => {
      stderr += t;
    },
    stdin: () => stdin,
    terminal: undefined,
    downloadOptions: { backoffMs: 50, idleTimeoutMs: 500 },
  };
  const code = await runMirror(argv, { DRIVER_CURL_OPTIONS: '--connect-timeout 1 -m 3 --retry 3', ...env }, io);
  return { code, stdout, stderr };
}

describe('mirror run against a local upstream', () => {
  it('fetches each file once, resumes, writes SHA256SUMS, and exits 0 only when complete', async () => {
    const ko = readFileSync(moduleFor('6.1.0-13-amd64', V));
    const bpf = elfObject(247);
    let flaky = 0;
    const server = await startServer((req, res) => {
      const url = req.url ?? '';
      if (url.endsWith('falco_debian_6.1.55-1-amd64_1.ko')) res.writeHead(200).end(ko);
      else if (url.endsWith('falco_flaky_1.0_1.ko')) {
        if (flaky++ < 2) res.writeHead(503).end();
        else res.writeHead(200).end(ko);
      } else if (url.endsWith('falco_debian_6.1.55-1-amd64_1.o')) res.writeHead(200).end(bpf);
      else if (url.endsWith('falco_html_1.0_1.ko')) res.writeHead(200).end('<html>captive portal</html>');
      else res.writeHead(404).end();
    });
    const out = path.join(tempDir(), 'mirror');
    const plans = [
      plan('node-a', 'debian', '6.1.55-1-amd64', 'kmod'),
      plan('node-b', 'debian', '6.1.55-1-amd64', 'ebpf'),
      plan('node-c', 'debian', '6.1.55-1-amd64', 'kmod'),
      row('flaky', '1.0'),
      row('gone', '1.0'),
      row('html', '1.0'),
    ].join('\n');
    const first = await mirror(['--plans', '-', '--out', out, '--repo', server.origin], plans);
    expect(first.code).toBe(1);
    const dir = path.join(out, V, 'x86_64');
    expect(readdirSync(dir).sort()).toEqual([
      'SHA256SUMS',
      'falco_debian_6.1.55-1-amd64_1.ko',
      'falco_debian_6.1.55-1-amd64_1.o',
      'falco_flaky_1.0_1.ko',
    ]);
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(readFileSync(path.join(dir, 'SHA256SUMS'), 'utf8')).toBe(
      `${sha(ko)}  falco_debian_6.1.55-1-amd64_1.ko\n${sha(bpf)}  falco_debian_6.1.55-1-amd64_1.o\n${sha(ko)}  falco_flaky_1.0_1.ko\n`,
    );
    const asked = (name: string) => server.requests.filter((r) => r.url.endsWith(name)).length;
    expect(asked('falco_debian_6.1.55-1-amd64_1.ko')).toBe(1); // two hosts, one request
    expect(asked('falco_flaky_1.0_1.ko')).toBe(3); // 503, 503, 200
    expect(first.stderr).toContain(`* fetched  ${V}/x86_64/falco_flaky_1.0_1.ko (${ko.length} bytes from 127.0.0.1:`);
    expect(first.stderr).toContain(`* missing  ${V}/x86_64/falco_gone_1.0_1.ko (not upstream: HTTP 404 Not Found)`);
    expect(first.stderr).toMatch(
      /\* FAILED {3}7\.0\.0\+driver\/x86_64\/falco_html_1\.0_1\.ko from 127\.0\.0\.1:\d+: it is an HTML/,
    );
    expect(first.stderr).toMatch(/falco_flaky_1\.0_1\.ko: HTTP 503 Service Unavailable; retrying/);
    expect(first.stdout).toBe(
      [
        'host                      files  found  missing upstream  failed',
        'line 4                        1      1                 0       0',
        'line 5                        1      0                 1       0',
        'line 6                        1      0                 0       1',
        'node-a                        1      1                 0       0',
        'node-b                        1      1                 0       0',
        'node-c                        1      1                 0       0',
        'all hosts (unique files)      5      3                 1       1',
        '',
      ].join('\n'),
    );

    // Resumed: nothing complete is asked for again; --allow-partial accepts what is missing, not what failed.
    const before = server.requests.length;
    const complete = plans.split('\n').slice(0, 5).join('\n');
    const second = await mirror(['--plans', '-', '--out', out, '--repo', server.origin, '--allow-partial'], complete);
    expect(second.code).toBe(0);
    expect(server.requests.slice(before).map((r) => r.url)).toEqual([`/7.0.0%2Bdriver/x86_64/falco_gone_1.0_1.ko`]);
    expect(second.stderr).toContain(`* present  ${V}/x86_64/falco_flaky_1.0_1.ko (already in the mirror, not fetched)`);

    // A file the mirror's SHA256SUMS contradicts is fetched again.
    writeFileSync(path.join(dir, 'falco_flaky_1.0_1.ko'), 'tampered');
    const third = await mirror(['--plans', '-', '--out', out, '--repo', server.origin], plans.split('\n')[3] ?? '');
    expect(third.code).toBe(0);
    expect(readFileSync(path.join(dir, 'falco_flaky_1.0_1.ko'))).toEqual(ko);
    expect(existsSync(path.join(out, 'falco-sums'))).toBe(false);
  });
});

describe('mirror progress', () => {
  const outcome = (state: FileOutcome['state']): FileOutcome => ({
    file: {
      key: `${V}/x86_64/f.ko`,
      driverVersion: V,
      arch: 'x86_64',
      fileName: 'f.ko',
      urls: [],
      hosts: new Set(['h']),
    },
    state,
    bytes: state === 'fetched' ? 10 : 0,
    detail: state === 'failed' ? 'HTTP 403 Forbidden' : '',
    origin: 'up.example',
  });

  it('on a terminal: one bar redrawn in place, failures printed above it, cleared at the end', () => {
    const drawn: string[] = [];
    const lines: string[] = [];
    const p = new MirrorProgress(2, { columns: 100, write: (t) => drawn.push(t) }, (l) => lines.push(l));
    p.finished(outcome('fetched'));
    p.finished(outcome('failed'));
    p.end();
    expect(drawn[0]).toBe(
      `\r* mirror [####################....................] 1/2 files (1 fetched, 0 present, 0 missing, 0 failed)\u001b[K`,
    );
    expect(drawn.at(-2)).toContain('2/2 files (1 fetched, 0 present, 0 missing, 1 failed)');
    expect(drawn.at(-1)).toBe('\r\u001b[K');
    expect(lines).toEqual([`* FAILED   ${V}/x86_64/f.ko from up.example: HTTP 403 Forbidden`]);
  });

  it('elsewhere: one line per file and no escape sequence', () => {
    const lines: string[] = [];
    const p = new MirrorProgress(2, undefined, (l) => lines.push(l));
    p.finished(outcome('present'));
    p.finished(outcome('missing'));
    p.end();
    expect(lines).toEqual([
      `* present  ${V}/x86_64/f.ko (already in the mirror, not fetched)`,
      `* missing  ${V}/x86_64/f.ko (not upstream: )`,
    ]);
  });
});

describe('the mirror word in the legacy grammar', () => {
  it('is a command only as the first word; elsewhere it is still an unknown driver, as in 0.36', async () => {
    const env = { PATH: '/usr/bin:/bin', HOME: tempDir() };
    expect(await runMain(['mirror', '--help'], env)).toEqual({ code: 0, stdout: MIRROR_USAGE, stderr: '' });
    const bare = await runMain(['mirror'], env);
    expect(bare).toEqual({
      code: 1,
      stdout: '',
      stderr: 'mirror needs --plans <file|->: the plans to fetch drivers for (see falco-driver-loader mirror --help)\n',
    });
    const later = await runMain(['--compile', 'mirror'], env);
    expect(later.code).toBe(1);
    expect(later.stderr).toBe('Unknown driver: mirror\n');
    expect(later.stdout).toBe(usage());
  });
});

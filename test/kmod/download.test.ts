import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/httpServer.js';
import { DEBIAN_OS_RELEASE, FakeKernel } from './fakeKernel.js';
import { moduleFor } from './modules.js';

type Reply = number | Buffer | ((res: http.ServerResponse) => void);

/** Exact paths → a status, a body (200) or a custom reply; anything else is 404. */
async function repo(routes: Record<string, Reply>): Promise<TestServer> {
  return startServer((req, res) => {
    const reply = routes[req.url ?? ''];
    if (typeof reply === 'function') return reply(res);
    if (reply === undefined || typeof reply === 'number') {
      res.writeHead(reply ?? 404).end();
      return;
    }
    res.writeHead(200, { 'content-length': String(reply.length) }).end(reply);
  });
}

const FILE = 'falco_centos_6.1.0-13-amd64_1.ko';
const URL_PATH = `/6.0.1%2Bdriver/x86_64/${FILE}`;

function tried(url: string): string {
  return `* Trying to download a prebuilt falco module from ${url}\n`;
}

function cacheDirEntries(k: FakeKernel): string[] {
  const dir = path.dirname(k.cachePath(FILE));
  return existsSync(dir) ? readdirSync(dir) : [];
}

describe('module download (legacy-loader.md §B.6.3)', () => {
  it('404 on the first repository, success on the second; the file is cached', async () => {
    const k = new FakeKernel();
    const module = moduleFor(k.release);
    const server = await repo({ [`/b${URL_PATH}`]: readFileSync(module) });
    const [a, b] = [`${server.origin}/a`, `${server.origin}/b`];
    const result = await k.run([], { DRIVERS_REPO: `${a},${b}` });
    expect(result.stdout).toContain('* Running falco-driver-loader with: driver=module, compile=yes, download=yes\n');
    expect(result.stdout).toContain(
      `${tried(`${a}${URL_PATH}`)}${tried(`${b}${URL_PATH}`)}* Download succeeded\n* Loaded 'falco' module version: 6.0.1+driver\n* Success: falco module found and inserted\n`,
    );
    expect(result.stderr).toMatch(
      /^Download failed: HTTP 404 Not Found\nUnable to find a prebuilt falco module\n\* Downloaded \d+ bytes in [\d.]+ s\n$/,
    );
    expect(result.code).toBe(0);
    // Issue 19: once the file arrived, the SHA256SUMS beside it is asked for (this repository has none).
    expect(server.requests.map((r) => r.url)).toEqual([
      `/a${URL_PATH}`,
      `/b${URL_PATH}`,
      '/b/6.0.1%2Bdriver/x86_64/SHA256SUMS',
    ]);
    expect(readFileSync(k.cachePath(FILE))).toEqual(readFileSync(module));
    expect(k.callsOf('insmod')).toEqual([`insmod ${k.cachePath(FILE)}`]);
    expect(k.callsOf('dkms').filter((c) => c.startsWith('dkms install'))).toEqual([]);
  });

  it("encodes '+' in the URL (driver version and kernel release) but not in the cache path", async () => {
    const k = new FakeKernel({ release: '6.1.0+rpt-rpi-v8' });
    const file = 'falco_centos_6.1.0+rpt-rpi-v8_1.ko';
    const urlPath = '/6.0.1%2Bdriver/x86_64/falco_centos_6.1.0%2Brpt-rpi-v8_1.ko';
    const server = await repo({ [urlPath]: readFileSync(moduleFor(k.release)) });
    const result = await k.run([], { DRIVERS_REPO: server.origin });
    expect(result.stdout).toContain(tried(`${server.origin}${urlPath}`));
    expect(result.code).toBe(0);
    expect(existsSync(path.join(k.home, '.falco/6.0.1+driver/x86_64', file))).toBe(true);
  });

  it('rejects an HTML page served with 200 and never caches it', async () => {
    const k = new FakeKernel({ without: ['dkms'] });
    const server = await repo({ [URL_PATH]: Buffer.from('<html><body>Please log in</body></html>\n') });
    const result = await k.run([], { DRIVERS_REPO: server.origin });
    expect(result.stderr).toContain(
      'Download failed: an HTML error page served with status 200\nUnable to find a prebuilt falco module\n',
    );
    expect(result.stdout).not.toContain('* Download succeeded');
    expect(cacheDirEntries(k)).toEqual([]);
    expect(k.callsOf('insmod')).toEqual([]);
    expect(result.code).toBe(1);
  });

  it('rejects a truncated body (the server closes early) and never caches it', async () => {
    const k = new FakeKernel({ without: ['dkms'] });
    const body = readFileSync(moduleFor(k.release));
    const server = await repo({
      [URL_PATH]: (res) => {
        res.writeHead(200, { 'content-length': String(body.length) });
        res.write(body.subarray(0, 100), () => res.socket?.destroy());
      },
    });
    const result = await k.run([], { DRIVERS_REPO: server.origin, DRIVER_CURL_OPTIONS: '--retry 0' });
    expect(result.stderr).toMatch(
      /Download failed: connection closed after \d+ of \d+ bytes.*\nUnable to find a prebuilt falco module\n/,
    );
    expect(cacheDirEntries(k)).toEqual([]);
    expect(k.callsOf('insmod')).toEqual([]);
    expect(result.code).toBe(1);
  });

  it('rejects a module built for another kernel with one line naming both', async () => {
    const k = new FakeKernel({ without: ['dkms'] });
    const server = await repo({ [URL_PATH]: readFileSync(moduleFor('6.1.0-12-amd64')) });
    const result = await k.run([], { DRIVERS_REPO: server.origin });
    expect(result.stderr).toContain(
      'Download failed: built for 6.1.0-12-amd64, this kernel is 6.1.0-13-amd64\nUnable to find a prebuilt falco module\n',
    );
    expect(cacheDirEntries(k)).toEqual([]);
    expect(result.code).toBe(1);
  });

  it('a stale cached module that insmod refuses is removed, and the download replaces it', async () => {
    const k = new FakeKernel();
    const cached = k.cachePath(FILE);
    mkdirSync(path.dirname(cached), { recursive: true });
    copyFileSync(moduleFor(k.release, '5.0.1+driver', ['fake=FAKE_INSMOD_REJECT']), cached);
    const good = readFileSync(moduleFor(k.release));
    const server = await repo({ [URL_PATH]: good });
    const result = await k.run([], { DRIVERS_REPO: server.origin });
    expect(result.stderr).toContain(
      `insmod: ERROR: could not insert module ${cached}: Invalid module format\nUnable to insmod the cached falco module: removed ${cached}, trying the next source\n`,
    );
    expect(result.stdout).toContain('* Download succeeded\n');
    expect(result.code).toBe(0);
    expect(k.callsOf('insmod')).toEqual([`insmod ${cached}`, `insmod ${cached}`]);
    expect(readFileSync(cached)).toEqual(good);
  });

  it('a downloaded module that insmod refuses is removed from the cache; the next repository is tried', async () => {
    const k = new FakeKernel({ without: ['dkms'] });
    const bad = readFileSync(moduleFor(k.release, '6.0.1+driver', ['fake=FAKE_INSMOD_REJECT']));
    const server = await repo({ [`/a${URL_PATH}`]: bad, [`/b${URL_PATH}`]: readFileSync(moduleFor(k.release)) });
    const result = await k.run([], { DRIVERS_REPO: `${server.origin}/a ${server.origin}/b` });
    expect(result.stderr).toContain('Invalid module format\nUnable to insmod the prebuilt falco module\n');
    expect(result.stdout).toContain(
      `* Download succeeded\n* Removed ${k.cachePath(FILE)} from the cache so that it is not tried again\n${tried(`${server.origin}/b${URL_PATH}`)}* Download succeeded\n`,
    );
    expect(result.code).toBe(0);
  });

  it('--download only never builds, and ends with modprobe then exit 1', async () => {
    const k = new FakeKernel();
    k.headers();
    const server = await repo({});
    const result = await k.run(['--download'], { DRIVERS_REPO: server.origin });
    expect(result.stdout).toContain('compile=no, download=yes\n');
    expect(k.calls().filter((c) => !/^(lsmod|dkms status)/.test(c))).toEqual(['modprobe falco']);
    expect(
      result.stderr.endsWith(
        'Consider compiling your own falco driver and loading it or getting in touch with the Falco community\n',
      ),
    ).toBe(true);
    expect(result.code).toBe(1);
  });

  it('never prints the credentials of a repository URL', async () => {
    const k = new FakeKernel({ without: ['dkms'] });
    const server = await repo({});
    const origin = server.origin.replace('http://', 'http://user:s3cret@');
    const result = await k.run([], { DRIVERS_REPO: origin });
    expect(result.stdout).toContain(tried(`http://***@127.0.0.1:${server.port}${URL_PATH}`));
    expect(`${result.stdout}${result.stderr}`).not.toContain('s3cret');
    expect(server.requests[0]?.headers.authorization).toBe(`Basic ${Buffer.from('user:s3cret').toString('base64')}`);
  });
});

describe('Debian: the download uses the fixed-up release, dkms and vermagic the real one', () => {
  it('6.1.0-13-amd64 + "Debian 6.1.55-1" → falco_debian_6.1.55-1-amd64_1.ko, dkms -k 6.1.0-13-amd64', async () => {
    const k = new FakeKernel({ osRelease: DEBIAN_OS_RELEASE });
    k.headers();
    const server = await repo({});
    const result = await k.run([], { DRIVERS_REPO: server.origin, FAKE_DKMS_MODULE: moduleFor(k.release) });
    expect(result.stdout).toContain('* Looking for a falco module locally (kernel 6.1.55-1-amd64)\n');
    expect(server.requests.map((r) => r.url)).toEqual(['/6.0.1%2Bdriver/x86_64/falco_debian_6.1.55-1-amd64_1.ko']);
    const installs = k.callsOf('dkms').filter((c) => c.startsWith('dkms install'));
    expect(installs[0]).toMatch(/ -m falco -v 6\.0\.1\+driver -k 6\.1\.0-13-amd64$/);
    expect(result.stdout).toContain('* Success: falco module found and loaded in dkms\n');
    expect(result.code).toBe(0);
  });
});

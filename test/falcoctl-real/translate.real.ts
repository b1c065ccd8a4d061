import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/httpServer.js';
import { tempDir } from '../helpers/tmp.js';
import { binaryOf, envLines, handOffArgv, plain, releases, Sandbox } from './harness.js';

/**
 * Translation against each real release: a legacy invocation goes through our real CLI, which detects the real
 * falcoctl and hands off; the argv it hands off is then given to that real falcoctl (in the sandbox, as nobody):
 * - always with `--download=false --compile=false` appended (the last value of a bool flag wins): every flag and
 *   value must parse, and falcoctl's own validation (types, host root, version, repo URLs) must pass: exit 0 with
 *   "Nothing to do" (or "No artifacts needed" for modern_ebpf);
 * - when it downloads, as is but with `--compile=false`, against a local server: the request must be for the file
 *   our --print-env names, carrying the headers, and falcoctl must then insmod (a stand-in) the downloaded file;
 * - `driver cleanup` as is: exit 0, and it checked lsmod and asked dkms for the module.
 */
const HOST = { 'etc/os-release': 'ID=debian\nVERSION_ID="12"\nNAME="Debian GNU/Linux"\n' };
const KR = '6.1.0-13-amd64';
const KV = '#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)';
const FILE = 'falco_debian_6.1.55-1-amd64_1.ko';
const KO = Buffer.from('not really a module, falcoctl does not look inside\n');

let tls: { key: string; cert: string } | undefined;
function certificate(): { key: string; cert: string } {
  if (tls) return tls;
  const dir = tempDir('fdl-tls-');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1/',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      path.join(dir, 'key.pem'),
      '-out',
      path.join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  tls = {
    key: readFileSync(path.join(dir, 'key.pem'), 'utf8'),
    cert: readFileSync(path.join(dir, 'cert.pem'), 'utf8'),
  };
  return tls;
}

const serveModules = (req: { url?: string | undefined }, res: import('node:http').ServerResponse) => {
  if (req.url?.endsWith('.ko')) res.end(KO);
  else res.writeHead(404).end();
};

interface Case {
  readonly name: string;
  readonly args: string[];
  /** Built from the servers' origins. */
  readonly env: (a: TestServer, b: TestServer) => NodeJS.ProcessEnv;
  readonly https?: boolean;
  /** Headers the download request must carry. */
  readonly headers?: Record<string, string>;
}

const CASES: Case[] = [
  { name: 'default run, DRIVERS_REPO', args: [], env: (a) => ({ DRIVERS_REPO: a.origin }) },
  { name: 'word `module`', args: ['module'], env: (a) => ({ DRIVERS_REPO: a.origin }) },
  { name: 'word `kmod` --download', args: ['kmod', '--download'], env: (a) => ({ DRIVERS_REPO: a.origin }) },
  { name: '--compile (download off)', args: ['--compile'], env: (a) => ({ DRIVERS_REPO: a.origin }) },
  {
    name: 'DRIVERS_REPO list (first repo 404s, second serves)',
    args: [],
    env: (a, b) => ({ DRIVERS_REPO: `${a.origin}/missing ${b.origin}` }),
  },
  {
    name: 'DRIVER_NAME, kernel overrides',
    args: ['--kernel-release', KR, '--kernel-version', KV],
    env: (a) => ({ DRIVERS_REPO: a.origin, DRIVER_NAME: 'falco' }),
  },
  {
    name: '--http-headers + FALCOCTL_DRIVER_HTTP_HEADERS ignored when the option is given',
    args: ['--http-headers', 'X-Token: abc'],
    env: (a) => ({ DRIVERS_REPO: a.origin, FALCOCTL_DRIVER_HTTP_HEADERS: 'X-Other: 1' }),
    headers: { 'x-token': 'abc' },
  },
  {
    name: 'DRIVER_CURL_OPTIONS -H and -m',
    args: [],
    env: (a) => ({ DRIVERS_REPO: a.origin, DRIVER_CURL_OPTIONS: '-H "X-Other: 1" -m 30' }),
    headers: { 'x-other': '1' },
  },
  {
    name: 'DRIVER_INSECURE_DOWNLOAD against a self-signed HTTPS repo',
    args: [],
    https: true,
    env: (a) => ({ DRIVERS_REPO: a.origin, DRIVER_INSECURE_DOWNLOAD: 'yes' }),
  },
  {
    name: 'curl -k against a self-signed HTTPS repo',
    args: [],
    https: true,
    env: (a) => ({ DRIVERS_REPO: a.origin, DRIVER_CURL_OPTIONS: '-k' }),
  },
];

for (const release of releases()) {
  describe(`falcoctl ${release.tag}: the argv we hand off is accepted`, () => {
    const built = binaryOf(release);
    if ('reason' in built) {
      // One failure per file for a release that could not be built, with the reason; its checks cannot run.
      it('has its binary', () => {
        throw new Error(built.reason);
      });
      return;
    }
    const binary = () => built.path;

    for (const c of CASES) {
      it(c.name, async () => {
        const sb = new Sandbox(binary(), HOST);
        const a = await startServer((req, res) => serveModules(req, res), c.https ? certificate() : undefined);
        const b = await startServer((req, res) => serveModules(req, res));
        const env = { DRIVER_KERNEL_RELEASE: KR, DRIVER_KERNEL_VERSION: KV, ...c.env(a, b) };
        const loader = handOffArgv(sb, c.args, env);
        expect(loader.argv, `${loader.stdout}${loader.stderr}`).toBeDefined();
        const argv = loader.argv as string[];
        expect(argv.slice(0, 2)).toEqual(['driver', 'install']);

        const parsed = await sb.run([...argv, '--download=false', '--compile=false']);
        expect(parsed.code, plain(parsed)).toBe(0);
        expect(plain(parsed)).toMatch(/Nothing to do: download and compile disabled/);

        if (!argv.includes('--download=true')) return;
        const real = await sb.run([...argv, '--compile=false']);
        expect(real.code, plain(real)).toBe(0);
        const gets = [...a.requests, ...b.requests].filter((r) => r.url.endsWith('.ko'));
        expect(gets.map((r) => path.basename(r.url))).toContain(FILE);
        const hit = gets.find((r) => r.url.endsWith(FILE));
        // The version's '+' is percent-encoded in the path, as the legacy script's curl URL had it.
        expect(hit?.url.endsWith(`/7.0.0%2Bdriver/x86_64/${FILE}`)).toBe(true);
        for (const [k, v] of Object.entries(c.headers ?? {})) expect(hit?.headers[k]).toBe(v);
        // falcoctl loaded what it downloaded (insmod is a stand-in here).
        expect(real.calls.some((l) => l.startsWith('insmod ') && l.endsWith(FILE))).toBe(true);
      });
    }

    it('certificate checks stay on: the HTTPS repo without an insecure option is refused', async () => {
      const sb = new Sandbox(binary(), HOST);
      const a = await startServer((req, res) => serveModules(req, res), certificate());
      const loader = handOffArgv(sb, [], {
        DRIVER_KERNEL_RELEASE: KR,
        DRIVER_KERNEL_VERSION: KV,
        DRIVERS_REPO: a.origin,
      });
      const argv = loader.argv as string[];
      expect(argv).not.toContain('--http-insecure=true');
      const real = await sb.run([...argv, '--compile=false']);
      expect(plain(real)).toMatch(/certificate|x509/i);
      expect(real.calls.filter((l) => l.startsWith('insmod '))).toEqual([]);
    });

    it('--clean → driver cleanup: accepted; lsmod checked, dkms asked', async () => {
      const sb = new Sandbox(binary(), HOST);
      const loader = handOffArgv(sb, ['--clean'], { DRIVER_KERNEL_RELEASE: KR, DRIVER_KERNEL_VERSION: KV });
      const argv = loader.argv as string[];
      expect(argv.slice(0, 2)).toEqual(['driver', 'cleanup']);
      const out = await sb.run(argv);
      expect(out.code, plain(out)).toBe(0);
      expect(out.calls).toContain('lsmod ');
      expect(out.calls).toContain('dkms status -m falco');
    });

    it('printenv with the same driver flags names what we name', async () => {
      const sb = new Sandbox(binary(), HOST);
      const loader = handOffArgv(sb, [], { DRIVER_KERNEL_RELEASE: KR, DRIVER_KERNEL_VERSION: KV });
      const argv = loader.argv as string[];
      // printenv takes the `driver` flags; the kernel ones only where they are `driver` flags (0.8.0 on).
      const help = (await sb.run(['driver', 'printenv', '--help'])).stdout;
      const printenvFlags = argv.filter((f) => {
        const name = /^(--[a-z-]+)=/.exec(f)?.[1] ?? '';
        return (
          ['--type', '--name', '--version', '--repo', '--host-root', '--kernelrelease', '--kernelversion'].includes(
            name,
          ) && help.includes(`${name} `)
        );
      });
      const out = await sb.run(['driver', 'printenv', ...printenvFlags]);
      expect(out.code, plain(out)).toBe(0);
      const e = envLines(out.stdout);
      expect(e).toMatchObject({
        DRIVER: 'kmod',
        DRIVER_NAME: 'falco',
        DRIVER_VERSION: '7.0.0+driver',
        TARGET_ID: 'debian',
      });
      // Before 0.8.0 printenv cannot be told the kernel (it reads the running one): the install check covers the name.
      if (!help.includes('--kernelrelease ')) return;
      expect(`falco_${e.TARGET_ID}_${e.FIXED_KERNEL_RELEASE}_${e.FIXED_KERNEL_VERSION}.ko`).toBe(FILE);
    });
  });
}

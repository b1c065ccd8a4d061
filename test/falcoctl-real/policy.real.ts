import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startServer } from '../helpers/httpServer.js';
import { binaryOf, envLines, handOffArgv, plain, releases, Sandbox } from './harness.js';

/**
 * Where we stay standalone (src/falcoctl/translate.ts), the reason must be true of the real release: one case per
 * reason that depends on falcoctl, run against the binary. Plus which environment variables each release honours for
 * the driver settings (input for passing values by environment instead of argv).
 */
const HOST = { 'etc/os-release': 'ID=debian\nVERSION_ID="12"\n' };
const FLAGS = ['--type=kmod', '--name=falco', '--version=7.0.0+driver'];
const KERNEL = [
  '--kernelrelease=6.1.0-13-amd64',
  '--kernelversion=#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)',
];
const FILE = 'falco_debian_6.1.55-1-amd64_1.ko';
const downloaded = (sb: Sandbox) => {
  try {
    return readdirSync(path.join(sb.home, '.falco', '7.0.0+driver', 'x86_64'));
  } catch {
    return [];
  }
};

for (const release of releases()) {
  describe(`falcoctl ${release.tag}: the standalone reasons hold`, () => {
    const built = binaryOf(release);
    if ('reason' in built) {
      // One failure per file for a release that could not be built, with the reason; its checks cannot run.
      it('has its binary', () => {
        throw new Error(built.reason);
      });
      return;
    }
    const sandbox = () => new Sandbox(built.path, HOST);
    const v = release.version;
    const before013 = !['0.13.0'].includes(v);

    it(`legacy eBPF probe: ${before013 ? 'still a driver type (handed off)' : 'no longer a type (standalone)'}`, async () => {
      const sb = sandbox();
      const out = await sb.run([
        'driver',
        'printenv',
        '--type=ebpf',
        '--name=falco',
        '--version=7.0.0+driver',
        `--host-root=${sb.hostRoot}`,
      ]);
      if (before013) {
        expect(out.code, plain(out)).toBe(0);
        expect(envLines(out.stdout).DRIVER).toBe('ebpf');
        expect(handOffArgv(sb, ['bpf'], { DRIVERS_REPO: 'http://127.0.0.1:9' }).argv).toContain('--type=ebpf');
      } else {
        expect(out.code).not.toBe(0);
        expect(plain(out)).toMatch(/unsupported driver type specified: ebpf|please provide one of/);
        const loader = handOffArgv(sb, ['bpf'], { DRIVERS_REPO: 'http://127.0.0.1:9' });
        expect(loader.argv).toBeUndefined();
        expect(loader.stderr).toMatch(/no longer handles the legacy eBPF probe/);
      }
    });

    it('auto: a priority list of types is accepted only where --type takes a list', async () => {
      const sb = sandbox();
      const out = await sb.run([
        'driver',
        'printenv',
        '--type=modern_ebpf,kmod',
        ...FLAGS.slice(1),
        `--host-root=${sb.hostRoot}`,
      ]);
      const loader = handOffArgv(sb, ['auto'], { DRIVERS_REPO: 'http://127.0.0.1:9' });
      if (v === '0.7.3') {
        expect(plain(out)).toMatch(/invalid argument "modern_ebpf,kmod" for "--type"/);
        expect(loader.argv).toBeUndefined();
        expect(loader.stderr).toMatch(/takes a single --type/);
      } else {
        expect(out.code, plain(out)).toBe(0);
        expect(loader.argv).toContain('--type=modern_ebpf,kmod');
      }
    });

    it('file:// repositories: falcoctl cannot download from them', async () => {
      const sb = sandbox();
      const repo = path.join(sb.dir, 'mirror');
      mkdirSync(path.join(repo, '7.0.0+driver', 'x86_64'), { recursive: true });
      writeFileSync(path.join(repo, '7.0.0+driver', 'x86_64', FILE), 'module');
      const out = await sb.run([
        'driver',
        'install',
        ...FLAGS,
        ...KERNEL,
        `--host-root=${sb.hostRoot}`,
        `--repo=file://${repo}`,
        '--compile=false',
      ]);
      expect(plain(out)).toMatch(/unsupported protocol scheme "file"/);
      expect(downloaded(sb)).toEqual([]);
      expect(handOffArgv(sb, [], { DRIVERS_REPO: `file://${repo}` }).stderr).toMatch(/file:\/\/ repositories/);
    });

    it("a header value with ',' or ':' does not reach the server intact", async () => {
      const sb = sandbox();
      const server = await startServer((_req, res) => res.writeHead(404).end());
      const run = (headers: string) =>
        sb.run([
          'driver',
          'install',
          ...FLAGS,
          ...KERNEL,
          `--host-root=${sb.hostRoot}`,
          `--repo=${server.origin}`,
          '--compile=false',
          `--http-headers=${headers}`,
        ]);
      const comma = await run('X-List: a,b');
      const colon = await run('X-Auth: Basic a:b');
      const seen = server.requests.map((r) => [r.headers['x-list'], r.headers['x-auth']]);
      // Either falcoctl refuses the list, or what arrives is not the value given.
      expect(seen.some(([list]) => list === 'a,b') || (comma.code === 0 && server.requests.length === 0)).toBe(false);
      expect(seen.some(([, auth]) => auth === 'Basic a:b') || (colon.code === 0 && server.requests.length === 0)).toBe(
        false,
      );
      const loader = handOffArgv(sb, ['--http-headers', 'X-Auth: Basic a:b'], { DRIVERS_REPO: server.origin });
      expect(loader.argv).toBeUndefined();
      expect(loader.stderr).toMatch(/containing ',' or ':'/);
    });

    it("a kernel release with '+': falcoctl does not name the file the repository has", async () => {
      const sb = new Sandbox(built.path, {
        'etc/os-release': 'ID=cos\nVERSION_ID=105\nBUILD_ID=17412.226.28\n',
      });
      const server = await startServer((_req, res) => res.writeHead(404).end());
      await sb.run([
        'driver',
        'install',
        ...FLAGS,
        '--kernelrelease=5.15.133+',
        '--kernelversion=#1 SMP',
        `--host-root=${sb.hostRoot}`,
        `--repo=${server.origin}`,
        '--compile=false',
      ]);
      const asked = server.requests.map((r) => path.basename(decodeURIComponent(r.url)));
      expect(asked).not.toContain('falco_cos_5.15.133+_1.ko');
    });

    it('no flag for a CA file, proxy credentials, retries, connect timeout, BPF local sources or signing', async () => {
      const sb = sandbox();
      const help = (await sb.run(['driver', 'install', '--help'])).stdout;
      for (const missing of [
        '--cacert',
        '--ca',
        '--proxy',
        '--user',
        '--retry',
        '--connect-timeout',
        '--sign',
        'local kernel sources',
      ]) {
        expect(help).not.toContain(missing);
      }
    });

    it('environment variables honoured for the driver settings (FALCOCTL_DRIVER_*, HOST_ROOT); none for install options', async () => {
      const sb = sandbox();
      const server = await startServer((_req, res) => res.writeHead(404).end());
      const env = {
        FALCOCTL_DRIVER_NAME: 'envname',
        FALCOCTL_DRIVER_VERSION: '8.8.8+env',
        FALCOCTL_DRIVER_REPOS: server.origin,
        FALCOCTL_DRIVER_HOSTROOT: sb.hostRoot,
        FALCOCTL_DRIVER_TYPE: 'kmod',
      };
      const pe = envLines((await sb.run(['driver', 'printenv'], env)).stdout);
      expect(pe).toMatchObject({
        DRIVER_NAME: 'envname',
        DRIVER_VERSION: '8.8.8+env',
        DRIVERS_REPO: server.origin,
        HOST_ROOT: sb.hostRoot,
        DRIVER: 'kmod',
      });
      await sb.run(['driver', 'install', ...KERNEL, '--compile=false'], {
        ...env,
        FALCOCTL_DRIVER_HTTP_HEADERS: 'X-Env: 1',
        FALCOCTL_DRIVER_INSTALL_HTTP_HEADERS: 'X-Env: 2',
        FALCOCTL_HTTP_HEADERS: 'X-Env: 3',
      });
      expect(server.requests.length).toBeGreaterThan(0);
      expect(server.requests[0]?.headers['x-env']).toBeUndefined();
    });
  });
}

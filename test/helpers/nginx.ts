import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * Debian's nginx as a real static server for the mirror test (issue 19). Never installed system-wide: `apt-get
 * download` + `dpkg-deb -x` into the machine-level cache, like the e2e suite's packages, so no /etc/nginx appears and
 * no service starts. Test setup (globalSetup.ts) calls ensureNginx(); the test starts its own instance with a temp
 * prefix and config on 127.0.0.1 and stops it.
 */
const CACHE = path.join(
  process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'),
  'falco-driver-loader',
  'nginx',
);
const EXTRACTED = path.join(CACHE, 'root', 'usr', 'sbin', 'nginx');

/** The nginx binary, fetched from the Debian archive on first use; throws with the reason when it cannot be had. */
export function ensureNginx(): string {
  if (existsSync(EXTRACTED)) return EXTRACTED;
  mkdirSync(CACHE, { recursive: true });
  const work = mkdtempSync(path.join(CACHE, 'download-'));
  try {
    const fetch = () => execFileSync('apt-get', ['download', 'nginx'], { cwd: work, stdio: 'pipe', timeout: 120_000 });
    try {
      fetch();
    } catch {
      // A fresh machine may have no package lists yet (the brief's one `apt-get update`).
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'pipe', timeout: 300_000 });
      fetch();
    }
    const deb = readdirSync(work).find((f) => f.endsWith('.deb'));
    if (deb === undefined) throw new Error('apt-get download nginx left no .deb');
    const root = path.join(work, 'root');
    execFileSync('dpkg-deb', ['-x', path.join(work, deb), root], { stdio: 'pipe' });
    rmSync(path.join(CACHE, 'root'), { recursive: true, force: true });
    execFileSync('mv', [root, path.join(CACHE, 'root')]);
    return EXTRACTED;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export interface Nginx {
  readonly origin: string;
  stop(): Promise<void>;
}

/** nginx serving `root` on 127.0.0.1, one process, everything (pid, logs, temp paths) under a temp prefix. */
export async function startNginx(binary: string, root: string): Promise<Nginx> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const prefix = mkdtempSync(path.join(os.tmpdir(), 'fdl-nginx-'));
    const conf = path.join(prefix, 'nginx.conf');
    const temp = (name: string) => `${name}_temp_path ${path.join(prefix, name)};`;
    writeFileSync(
      conf,
      `daemon off;
master_process off;
worker_processes 1;
pid ${path.join(prefix, 'nginx.pid')};
error_log stderr warn;
events { worker_connections 64; }
http {
  access_log off;
  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp).join('\n  ')}
  types { }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${root};
  }
}
`,
    );
    const child = spawn(binary, ['-p', prefix, '-c', conf, '-e', 'stderr'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const up = await waitForPort(port, child);
    if (up) {
      return {
        origin: `http://127.0.0.1:${port}`,
        stop: async () => {
          await stopChild(child);
          rmSync(prefix, { recursive: true, force: true });
        },
      };
    }
    await stopChild(child);
    rmSync(prefix, { recursive: true, force: true });
    // Another test took the port between freePort() and nginx's bind: try another one.
    if (attempt >= 2 || !stderr.includes('Address already in use')) throw new Error(`nginx did not start: ${stderr}`);
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitForPort(port: number, child: ChildProcess): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) return false;
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.on('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

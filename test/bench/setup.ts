import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** What the harness found on this machine before measuring anything. */
export interface Machine {
  readonly nproc: number;
  readonly cpuModel: string;
  readonly memMiB: number;
  readonly kernel: string;
  readonly os: string;
  readonly node: string;
  readonly curl: string | undefined;
}

export function machine(curl: string | undefined): Machine {
  const cpuinfo = safeRead('/proc/cpuinfo');
  const osRelease = safeRead('/etc/os-release');
  return {
    nproc: os.availableParallelism(),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown',
    memMiB: Math.round(os.totalmem() / 1024 / 1024),
    kernel: `${os.release()} ${os.machine()}`,
    os: /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease)?.[1] ?? 'unknown',
    node: process.version,
    curl: curl ? firstLine(spawnSync(curl, ['--version'], { encoding: 'utf8' }).stdout) : undefined,
  };
}

const safeRead = (file: string): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
};
const firstLine = (text: string | undefined): string => (text ?? '').split('\n')[0] ?? '';

export function onPath(name: string): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir !== '' && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

let aptUpdated = false;

/**
 * A tool the benchmark compares against or measures with (curl, GNU time). Installed with apt only when missing,
 * as root, with apt-get present; otherwise undefined and the caller prints a "skipped" line.
 */
export function ensureTool(name: string, aptPackage: string, log: (line: string) => void): string | undefined {
  const found = onPath(name);
  if (found !== undefined || process.getuid?.() !== 0 || onPath('apt-get') === undefined) return found;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    log(`apt-get update (to install ${aptPackage})`);
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', timeout: 180_000, env });
    aptUpdated = true;
  }
  log(`apt-get install ${aptPackage}`);
  spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', aptPackage], {
    stdio: 'ignore',
    timeout: 300_000,
    env,
  });
  return onPath(name);
}

export interface SingleExecutable {
  readonly exe: string;
  /** First line of `--version`. */
  readonly version: string;
  /** The Node runtime inside it, per packaging/node-runtime.json. */
  readonly nodeVersion: string | undefined;
  readonly builtAt: Date;
  /** Built before the newest file under src/ was changed: it may not be the code being measured. */
  readonly stale: boolean;
}

/** `npm run build:sea` output for this machine's arch, when the other packaging work has produced it. */
export function singleExecutable(root: string): SingleExecutable | undefined {
  const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const exe = path.join(root, 'dist', `falco-driver-loader-${version}-${os.machine()}`);
  if (!isExecutable(exe)) return undefined;
  const r = spawnSync(exe, ['--version'], { encoding: 'utf8', timeout: 10_000, env: { PATH: '/usr/bin:/bin' } });
  const builtAt = statSync(exe).mtime;
  return {
    exe,
    version: r.status === 0 ? firstLine(r.stdout) : `--version failed (exit ${r.status})`,
    nodeVersion: runtimeManifest(root)?.nodeVersion,
    builtAt,
    stale: newestMtime(path.join(root, 'src')) > builtAt.getTime(),
  };
}

interface RuntimeManifest {
  readonly nodeVersion: string;
  readonly runtimes: Record<string, { readonly package: string }>;
}

function runtimeManifest(root: string): RuntimeManifest | undefined {
  const file = path.join(root, 'packaging', 'node-runtime.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as RuntimeManifest) : undefined;
}

/**
 * The plain Node binary the single executable is built from (build-sea.mjs caches it under dist/.cache): running it
 * with `-e 0` is "the same runtime doing nothing".
 */
export function seaRuntime(root: string): { node: string; version: string } | undefined {
  const manifest = runtimeManifest(root);
  const pkg = manifest?.runtimes[os.machine()]?.package;
  if (manifest === undefined || pkg === undefined) return undefined;
  const node = path.join(root, 'dist', '.cache', 'node-runtime', `${pkg}-${manifest.nodeVersion}`, 'node');
  return isExecutable(node) ? { node, version: `v${manifest.nodeVersion}` } : undefined;
}

/**
 * The floor of the single executable: a hello-world SEA built by the same script. Only when
 * packaging/build-sea.mjs can build an arbitrary entry (`--entry <file> --output <file>`); the benchmark never
 * copies the packaging steps, so the floor cannot drift from how the real executable is built.
 */
export function helloSea(root: string, work: string): { exe: string } | { skipped: string } {
  const script = path.join(root, 'packaging', 'build-sea.mjs');
  if (!existsSync(script)) return { skipped: 'packaging/build-sea.mjs does not exist' };
  const source = readFileSync(script, 'utf8');
  if (!source.includes('--entry') || !source.includes('--output')) {
    return { skipped: 'packaging/build-sea.mjs builds only src/bin.ts (it has no --entry/--output options)' };
  }
  const entry = path.join(work, 'hello.cjs');
  const exe = path.join(work, 'hello-sea');
  writeFileSync(entry, 'process.stdout.write("hello\\n");\n');
  const r = spawnSync(process.execPath, [script, '--arch', os.machine(), '--entry', entry, '--output', exe], {
    cwd: root,
    encoding: 'utf8',
    timeout: 300_000,
  });
  const check = isExecutable(exe) ? spawnSync(exe, [], { encoding: 'utf8', timeout: 10_000 }) : undefined;
  if (r.status !== 0 || check?.stdout !== 'hello\n') {
    return { skipped: `build-sea.mjs --entry failed (exit ${r.status}): ${firstLine(r.stderr || r.stdout)}` };
  }
  return { exe };
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

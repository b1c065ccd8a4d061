import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { repoRoot } from '../helpers/paths.js';
import { tempDir, writeTree } from '../helpers/tmp.js';

/**
 * What the real-falcoctl checks share: where build.sh left each release, and a sandbox to run one in. A sandbox is a
 * temp dir with its own HOME and falcoctl.yaml (falcoctl writes /etc/falcoctl/falcoctl.yaml and ~/.falco otherwise),
 * a fake host root, and a PATH whose lsmod/rmmod/insmod/modprobe/dkms/chcon are logging stand-ins: falcoctl finds
 * them with LookPath or through `bash -c`, so nothing it starts can touch the machine. As root, falcoctl also runs
 * as nobody (setpriv), which keeps it out of everything but the sandbox: no module loads, no unprivileged BPF (so
 * modern_ebpf's live probe fails harmlessly), no writes outside the temp dir.
 */

export const CACHE_ROOT =
  process.env.FALCOCTL_REAL_CACHE ??
  path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'falco-driver-loader', 'falcoctl');
export const STATUS_DIR = process.env.FALCOCTL_REAL_STATUS ?? path.join(CACHE_ROOT, 'last-status');
export const FIXTURES = path.join(repoRoot, 'test', 'fixtures', 'falcoctl');
const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

export interface Release {
  readonly tag: string;
  /** Semver without the v, as `falcoctl version` reports it. */
  readonly version: string;
}

export function releases(): Release[] {
  return (
    readFileSync(path.join(import.meta.dirname, 'versions.txt'), 'utf8')
      .split('\n')
      .filter((line) => /^v\d/.test(line))
      // A release the Go module proxy refuses (`<tag> unavailable <reason>`) cannot be checked here: run.sh and the
      // e2e leg report it as skipped with that reason, in every run, rather than as a pass or a silent gap.
      .filter((line) => line.split(/\s+/)[1] !== 'unavailable')
      .map((line) => line.split(/\s+/)[0] as string)
      .filter((tag) => !process.env.FALCOCTL_REAL_ONLY || process.env.FALCOCTL_REAL_ONLY.split(/\s+/).includes(tag))
      .map((tag) => ({ tag, version: tag.slice(1) }))
  );
}

/** The built binary, or why there is none (build.sh's one-line status; a missing status says build.sh did not run). */
export function binaryOf(r: Release): { path: string } | { reason: string } {
  const statusFile = path.join(STATUS_DIR, `${r.tag}.status`);
  if (!existsSync(statusFile)) return { reason: `no build status in ${statusFile}: run test/falcoctl-real/build.sh` };
  const status = readFileSync(statusFile, 'utf8').trim();
  if (!status.startsWith('ok ')) return { reason: `falcoctl ${r.tag} was not built: ${status.replace(/^fail /, '')}` };
  const bin = path.join(CACHE_ROOT, r.tag, 'falcoctl');
  return existsSync(bin) ? { path: bin } : { reason: `build.sh reported ${status} but ${bin} is missing` };
}

export interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Lines the stand-ins logged: "lsmod", "rmmod falco", "dkms status -m falco", "insmod /…/x.ko"… */
  readonly calls: string[];
}

export class Sandbox {
  readonly dir = tempDir('fdl-falcoctl-');
  readonly home = path.join(this.dir, 'home');
  readonly hostRoot = path.join(this.dir, 'host');
  readonly config = path.join(this.dir, 'falcoctl', 'falcoctl.yaml');
  readonly bin = path.join(this.dir, 'bin');
  /** The real binary, alone in its directory (so that directory can be a PATH entry). */
  readonly falcoctl: string;
  private readonly log = path.join(this.dir, 'calls.log');

  constructor(binary: string, hostFiles: Record<string, string> = {}) {
    this.falcoctl = readableCopy(binary);
    for (const d of [this.home, this.hostRoot, path.dirname(this.config), this.bin]) mkdirSync(d, { recursive: true });
    writeTree(this.hostRoot, hostFiles);
    writeFileSync(this.log, '');
    const stub = (name: string, body: string) => {
      writeFileSync(path.join(this.bin, name), `#!/bin/sh\nprintf '%s\\n' "${name} $*" >> '${this.log}'\n${body}\n`);
      chmodSync(path.join(this.bin, name), 0o755);
    };
    stub('lsmod', "echo 'Module                  Size  Used by'");
    for (const name of ['rmmod', 'insmod', 'modprobe', 'chcon']) stub(name, 'exit 0');
    stub('dkms', 'exit 0');
    if (asRoot) chownTree(this.dir);
  }

  /**
   * Runs falcoctl <argv> --config=<sandbox>: never the machine's /etc/falcoctl. Asynchronous: the test's own HTTP
   * servers must keep answering while falcoctl downloads from them.
   */
  async run(argv: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<Outcome> {
    writeFileSync(this.log, '');
    const full = [...argv, `--config=${this.config}`];
    const [cmd, args] = asRoot
      ? ['setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', this.falcoctl, ...full]]
      : [this.falcoctl, full];
    const child = spawn(cmd, args as string[], {
      cwd: this.dir,
      env: { PATH: `${this.bin}:/usr/bin:/bin`, HOME: this.home, TMPDIR: this.dir, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c) => resolve(c ?? -1));
    }).finally(() => clearTimeout(timer));
    const calls = readFileSync(this.log, 'utf8').split('\n').filter(Boolean);
    return { code, stdout, stderr, calls };
  }
}

/**
 * One copy of each binary per test process, in a temp dir nobody can read (the build cache under root's home is
 * not), shared by the sandboxes: a 60 MB copy per check would be gigabytes of writes.
 */
const copies = new Map<string, string>();
function readableCopy(binary: string): string {
  const known = copies.get(binary);
  if (known !== undefined) return known;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fdl-falcoctl-bin-'));
  chmodSync(dir, 0o755);
  const file = path.join(dir, 'falcoctl');
  copyFileSync(binary, file);
  chmodSync(file, 0o755);
  copies.set(binary, file);
  return file;
}
afterAll(() => {
  for (const file of copies.values()) rmSync(path.dirname(file), { recursive: true, force: true });
  copies.clear();
});

function chownTree(dir: string): void {
  chownSync(dir, NOBODY, NOBODY);
  spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, dir]);
}

/** `KEY="value"` lines (falcoctl printenv, our --print-env) → record. */
export function envLines(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^([A-Z_]+)="(.*)"$/gm)) out[m[1] as string] = m[2] as string;
  return out;
}

/** falcoctl's pterm output without colour codes, for matching its log texts. */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
export const plain = (o: Outcome) => `${o.stdout}\n${o.stderr}`.replace(ANSI, '');

/**
 * Our loader, run for real (the built bundle) with `falcoctl` on PATH being a recorder in front of the real binary:
 * `falcoctl version` and `driver install --help` (all our detection asks) go to the real one; any other call is the
 * hand-off, whose argv is recorded (NUL-separated, so nothing is re-parsed by a shell) instead of run. The loader
 * runs with a temp sysroot, HOME and host root, so it touches nothing of the machine either.
 */
export function handOffArgv(
  sb: Sandbox,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): { argv: string[] | undefined; stdout: string; stderr: string; code: number } {
  const dir = tempDir('fdl-handoff-');
  const record = path.join(dir, 'argv');
  const wrapper = path.join(dir, 'bin', 'falcoctl');
  mkdirSync(path.dirname(wrapper));
  writeFileSync(
    wrapper,
    [
      '#!/bin/sh',
      `if [ "$*" = version ] || [ "$*" = "driver install --help" ]; then exec '${sb.falcoctl}' "$@"; fi`,
      `printf '%s\\0' "$@" > '${record}'`,
      'exit 0',
      '',
    ].join('\n'),
  );
  chmodSync(wrapper, 0o755);
  const sysroot = path.join(dir, 'sysroot');
  mkdirSync(sysroot);
  const result = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'falco-driver-loader.cjs'), ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: {
      PATH: `${path.dirname(wrapper)}:/usr/bin:/bin`,
      HOME: path.join(dir, 'home'),
      TMPDIR: '/tmp',
      HOST_ROOT: sb.hostRoot,
      FALCO_DRIVER_LOADER_SYSROOT: sysroot,
      FALCO_DRIVER_LOADER_FALCOCTL: 'always',
      DRIVER_VERSION: '7.0.0+driver',
      ...env,
    },
  });
  if (result.error) throw result.error;
  const argv = existsSync(record) ? readFileSync(record, 'utf8').split('\0').slice(0, -1) : undefined;
  return { argv, stdout: result.stdout, stderr: result.stderr, code: result.status ?? -1 };
}

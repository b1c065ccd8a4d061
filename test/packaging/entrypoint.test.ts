import { spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/paths.js';
import { tempDir, writeTree } from '../helpers/tmp.js';

/**
 * The container image's entrypoint (packaging/docker/docker-entrypoint.sh), run against a temp HOST_ROOT with a fake
 * loader: the /usr/src links Falco's entrypoint made (legacy-loader.md §C.1), then `exec` of the loader with the
 * container's arguments, whose exit code becomes the container's.
 */
const entrypoint = path.join(repoRoot, 'packaging', 'docker', 'docker-entrypoint.sh');

interface Scene {
  hostRoot: string;
  usrSrc: string;
  loader: string;
  record: string;
}

/** A host with kernel headers and Falco driver sources in /usr/src, an image /usr/src, and a loader that records. */
function scene(hostSrc: Record<string, string> = {}): Scene {
  const root = tempDir('fdl-entry-');
  const hostRoot = path.join(root, 'host');
  const usrSrc = path.join(root, 'image-usr-src');
  const record = path.join(root, 'loader.record');
  mkdirSync(usrSrc, { recursive: true });
  mkdirSync(path.join(hostRoot, 'usr', 'src'), { recursive: true });
  writeTree(path.join(hostRoot, 'usr', 'src'), hostSrc);
  const loader = path.join(root, 'falco-driver-loader');
  // Records its pid (to prove exec), its arguments one per line, and HOST_ROOT/HOME as it sees them.
  writeTree(root, {
    'falco-driver-loader': `#!/bin/sh
{ echo "pid=$$"; echo "HOST_ROOT=$HOST_ROOT"; for a in "$@"; do echo "arg=$a"; done; } > '${record}'
echo "* Success: fake loader ran"
exit "\${FAKE_EXIT:-0}"
`,
  });
  chmodSync(loader, 0o755);
  return { hostRoot, usrSrc, loader, record };
}

function run(s: Scene, args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync('/bin/sh', [entrypoint, ...args], {
    env: {
      PATH: '/usr/bin:/bin',
      HOST_ROOT: s.hostRoot,
      FALCO_DRIVER_LOADER_USR_SRC: s.usrSrc,
      FALCO_DRIVER_LOADER_BIN: s.loader,
      ...env,
    },
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (result.error) throw result.error;
  const lines = readFileSafe(s.record).split('\n').filter(Boolean);
  return {
    code: result.status,
    pid: result.pid,
    stdout: result.stdout,
    stderr: result.stderr,
    loaderPid: Number(lines.find((l) => l.startsWith('pid='))?.slice(4)),
    loaderArgs: lines.filter((l) => l.startsWith('arg=')).map((l) => l.slice(4)),
    loaderHostRoot: lines.find((l) => l.startsWith('HOST_ROOT='))?.slice('HOST_ROOT='.length),
  };
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

describe('docker-entrypoint.sh', () => {
  it('links every entry of $HOST_ROOT/usr/src into /usr/src, then execs the loader with the arguments verbatim', () => {
    const s = scene({
      'linux-headers-6.1.0-13-amd64/Makefile': '',
      'linux-headers-6.1.0-13-common/Makefile': '',
      'falco-7.3.0+driver/dkms.conf': '',
    });
    const r = run(s, ['bpf', '--compile', 'two words', '*']);

    expect(r.code).toBe(0);
    expect(r.stdout).toBe('* Setting up /usr/src links from host\n* Success: fake loader ran\n');
    expect(r.stderr).toBe('');
    expect(r.loaderArgs).toEqual(['bpf', '--compile', 'two words', '*']);
    expect(r.loaderHostRoot).toBe(s.hostRoot);
    // exec: the loader is the process the container runtime started (no shell left waiting in between).
    expect(r.loaderPid).toBe(r.pid);
    expect(readdirSync(s.usrSrc).sort()).toEqual([
      'falco-7.3.0+driver',
      'linux-headers-6.1.0-13-amd64',
      'linux-headers-6.1.0-13-common',
    ]);
    for (const name of readdirSync(s.usrSrc)) {
      expect(lstatSync(path.join(s.usrSrc, name)).isSymbolicLink()).toBe(true);
      expect(readlinkSync(path.join(s.usrSrc, name))).toBe(path.join(s.hostRoot, 'usr', 'src', name));
    }
  });

  it("returns the loader's exit code (an init container's decides whether the pod starts)", () => {
    const s = scene({ 'linux-headers-6.1.0-13-amd64/Makefile': '' });
    expect(run(s, [], { FAKE_EXIT: '1' }).code).toBe(1);
    expect(run(s, ['--download'], { FAKE_EXIT: '3' }).code).toBe(3);
  });

  it("keeps what the image already has in /usr/src and says nothing about it (Falco's ln printed 'File exists')", () => {
    const s = scene({ 'falco-7.3.0+driver/dkms.conf': 'host', 'linux-headers-6.1.0-13-amd64/Makefile': '' });
    writeTree(s.usrSrc, { 'falco-7.3.0+driver/dkms.conf': 'image' });
    symlinkSync('/nonexistent', path.join(s.usrSrc, 'linux-headers-6.1.0-13-amd64'));

    const r = run(s, ['kmod']);

    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(readFileSync(path.join(s.usrSrc, 'falco-7.3.0+driver', 'dkms.conf'), 'utf8')).toBe('image');
    expect(readlinkSync(path.join(s.usrSrc, 'linux-headers-6.1.0-13-amd64'))).toBe('/nonexistent');
    expect(r.loaderArgs).toEqual(['kmod']);
  });

  it('still runs the loader when the host has no /usr/src entries, or no /usr/src at all', () => {
    const empty = scene();
    const r1 = run(empty, ['--print-env']);
    expect(r1.code).toBe(0);
    expect(readdirSync(empty.usrSrc)).toEqual([]);
    expect(r1.loaderArgs).toEqual(['--print-env']);

    const noSrc = scene();
    const r2 = run(noSrc, [], { HOST_ROOT: path.join(noSrc.hostRoot, 'missing') });
    expect(r2.code).toBe(0);
    expect(r2.stdout).toContain('* Success: fake loader ran');
    expect(readdirSync(noSrc.usrSrc)).toEqual([]);
  });

  it('links dangling host symlinks too (e.g. a build link that resolves only on the host)', () => {
    const s = scene();
    symlinkSync('/usr/src/linux-headers-6.1.0-13-common', path.join(s.hostRoot, 'usr', 'src', 'dangling'));
    run(s, []);
    expect(readlinkSync(path.join(s.usrSrc, 'dangling'))).toBe(path.join(s.hostRoot, 'usr', 'src', 'dangling'));
  });

  it('reports a link it cannot make on stderr and goes on to the loader', () => {
    const s = scene({ 'linux-headers-6.1.0-13-amd64/Makefile': '' });
    const r = run(s, ['kmod'], { FALCO_DRIVER_LOADER_USR_SRC: path.join(s.usrSrc, 'missing-dir') });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('* Could not link');
    expect(r.loaderArgs).toEqual(['kmod']);
  });
});

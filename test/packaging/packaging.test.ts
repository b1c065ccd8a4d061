import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { usage } from '../../src/cli/usage.js';
import defaults from '../../src/defaults.json';
import { repoRoot } from '../helpers/paths.js';

/**
 * Fast, static checks of the packaging files (the slow build-and-inspect checks are packaging/ci-check.sh): the
 * paths, dependencies and promises the issue asks for are written down where the package tools will read them.
 */
const pkgDir = path.join(repoRoot, 'packaging');
const read = (rel: string): string => readFileSync(path.join(pkgDir, rel), 'utf8');
const productVersion: string = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );
}

describe('deb (packaging/deb)', () => {
  const control = read('deb/control.in');

  it('depends on glibc >= 2.28 and kmod, recommends dkms', () => {
    expect(control).toMatch(/^Depends: .*libc6 \(>= 2\.28\)/m);
    expect(control).toMatch(/^Depends: .*\bkmod\b/m);
    expect(control).toMatch(/^Recommends: dkms$/m);
  });

  it('has no post-install action: only preinst/postrm, which divert the legacy script and nothing else', () => {
    const scripts = readdirSync(path.join(pkgDir, 'deb')).filter((f) =>
      /^(pre|post)(inst|rm)$|^config$|^triggers$/.test(f),
    );
    expect(scripts.sort()).toEqual(['postrm', 'preinst']);
    for (const name of scripts) {
      const body = read(`deb/${name}`);
      expect(statSync(path.join(pkgDir, 'deb', name)).mode & 0o111).not.toBe(0);
      const commands = body.split('\n').filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
      expect(commands.join('\n')).not.toMatch(
        /falco-driver-loader +(--(clean|compile|download)|module|bpf|kmod|ebpf|auto)\b|modprobe|insmod|dkms /,
      );
      expect(body).toContain('--divert /usr/bin/falco-driver-loader.legacy /usr/bin/falco-driver-loader');
      expect(body).toContain('--package falco-driver-loader');
    }
    expect(read('deb/preinst')).toMatch(
      /install \| upgrade\)\n\s+dpkg-divert --package falco-driver-loader --add --rename/,
    );
    expect(read('deb/postrm')).toMatch(
      /remove \| abort-install \| disappear\)\n\s+dpkg-divert --package falco-driver-loader --remove --rename/,
    );
  });
});

describe('rpm (packaging/rpm/falco-driver-loader.spec)', () => {
  const spec = read('rpm/falco-driver-loader.spec');

  it('never strips or post-processes the single executable, and lists its dependencies by hand', () => {
    expect(spec).toMatch(/^AutoReqProv: +no$/m);
    expect(spec).toMatch(/^%global __os_install_post %\{nil\}$/m);
    expect(spec).toMatch(/^%global debug_package %\{nil\}$/m);
    expect(spec).toMatch(/^Requires: +glibc >= 2\.28$/m);
    expect(spec).toMatch(/^Requires: +kmod$/m);
    expect(spec).toMatch(/^Recommends: +dkms$/m);
  });

  it('conflicts with the Falco packages that ship the legacy script, and says why', () => {
    expect(spec).toMatch(/^Conflicts: +falco < 0\.37\.0$/m);
    expect(spec).toMatch(/# Falco 0\.23-0\.36 packages own \/usr\/bin\/falco-driver-loader/);
    expect(read('../README.md')).toContain('conflicts with `falco < 0.37`');
  });

  it('has no scriptlets at all (nothing runs on install or removal)', () => {
    expect(spec).not.toMatch(/^%(pre|post|preun|postun|pretrans|posttrans|triggerin|triggerun|filetriggerin)\b/m);
  });

  it('installs the same files as the deb', () => {
    expect(spec).toContain('%{_bindir}/falco-driver-loader\n');
    expect(spec).toContain('%{_mandir}/man8/falco-driver-loader.8.gz\n');
    expect(spec).toContain('%{_datadir}/bash-completion/completions/falco-driver-loader\n');
    const lib = read('lib.sh');
    expect(lib).toContain('"$dest/usr/bin/$PKG_NAME"');
    expect(lib).toContain('"$dest/usr/share/man/man8/$PKG_NAME.8.gz"');
    expect(lib).toContain('"$dest/usr/share/bash-completion/completions/$PKG_NAME"');
  });
});

describe('build-time defaults', () => {
  it('come only from src/defaults.json: no packaging file repeats a value', () => {
    const values = [defaults.driverVersion, defaults.falcoVersion, defaults.driversRepo];
    for (const file of filesUnder(pkgDir)) {
      const text = readFileSync(file, 'utf8');
      for (const value of values) expect({ file, has: text.includes(value) }).toEqual({ file, has: false });
    }
  });
});

describe('bash completion (packaging/completion)', () => {
  const completion = path.join(pkgDir, 'completion', 'falco-driver-loader.bash');
  // The completion reads options and driver words from `falco-driver-loader --help`: a fake prints usage().
  const bin = tempBin();

  function tempBin(): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fdl-completion-'));
    writeFileSync(path.join(dir, 'usage.txt'), usage());
    writeFileSync(
      path.join(dir, 'falco-driver-loader'),
      `#!/bin/sh\n[ "$1" = --help ] && exec cat '${dir}/usage.txt'\nexit 1\n`,
    );
    chmodSync(path.join(dir, 'falco-driver-loader'), 0o755);
    return dir;
  }
  afterAll(() => rmSync(bin, { recursive: true, force: true }));

  function complete(words: string[], pathDirs = `${bin}:/usr/bin:/bin`): string[] {
    const script = `. "$1"; shift; COMP_WORDS=(falco-driver-loader "$@"); COMP_CWORD=$#; _falco_driver_loader; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const r = spawnSync('bash', ['-c', script, '_', completion, ...words], {
      encoding: 'utf8',
      env: { PATH: pathDirs },
    });
    expect(r.status).toBe(0);
    return r.stdout.split('\n').filter(Boolean).sort();
  }

  it('offers exactly the options and driver words of the usage text', () => {
    const text = usage();
    const options = text.slice(text.indexOf('Options:'), text.indexOf('Environment variables:'));
    const fromUsage = [...options.matchAll(/^ {2}(-h, )?(--[a-z-]+)/gm)].flatMap((m) =>
      m[1] ? ['-h', m[2] ?? ''] : [m[2] ?? ''],
    );
    const drivers = text.slice(text.indexOf('Available drivers:'), text.indexOf('Options:'));
    const wordsFromUsage = [...drivers.matchAll(/^ {2}([a-z_]+)(?:, ([a-z_]+))?/gm)].flatMap((m) =>
      m.slice(1).filter(Boolean),
    );

    expect(complete(['--'])).toEqual(fromUsage.filter((o) => o.startsWith('--')).sort());
    expect(complete(['-'])).toContain('-h');
    expect(complete([''])).toEqual([...wordsFromUsage].sort());
    expect(wordsFromUsage).toEqual(expect.arrayContaining(['module', 'kmod', 'bpf', 'ebpf']));
  });

  it('offers no second driver word, nothing after free-form values, and the known choices', () => {
    expect(complete(['module', ''])).toEqual([]);
    expect(complete(['--http-headers', ''])).toEqual([]);
    expect(complete(['--kernel-version', ''])).toEqual([]);
    expect(complete(['--compile', 'mo'])).toEqual(['modern_ebpf', 'module']);
    expect(complete(['--falcoctl', ''])).toEqual(['always', 'auto', 'never']);
  });

  it('offers nothing, without an error, when the loader is not on PATH', () => {
    expect(complete(['--'], '/nonexistent:/usr/bin:/bin')).toEqual([]);
  });
});

describe('container image (packaging/docker) and Helm values (packaging/helm)', () => {
  const dockerfile = read('docker/Dockerfile');

  it('is modelled on Falco’s driver-loader image: bookworm, HOST_ROOT, HOME, /lib/modules, the usage label', () => {
    // The base is a build argument (npm run build:image passes a debootstrapped one); Docker Hub's by default.
    expect(dockerfile).toMatch(/^ARG BASE_IMAGE=docker\.io\/library\/debian:bookworm$/m);
    expect(dockerfile).toMatch(/^FROM \$\{BASE_IMAGE\}$/m);
    expect(dockerfile).toMatch(/^ENV HOST_ROOT=\/host$/m);
    expect(dockerfile).toMatch(/^ENV HOME=\/root$/m);
    expect(dockerfile).toContain('ln -s "$HOST_ROOT/lib/modules" /lib/modules');
    for (const pkg of ['ca-certificates', 'kmod', 'dkms', 'make', 'gcc', 'clang', 'llvm', 'libelf-dev']) {
      expect(dockerfile).toMatch(new RegExp(`\\s${pkg}\\s`));
    }
    // The documented docker run line of falcosecurity/falco-driver-loader 0.35/0.36 (legacy-loader.md §C.1).
    expect(dockerfile).toContain(
      'usage="docker run -i -t --privileged -v /root/.falco:/root/.falco -v /proc:/host/proc:ro -v /boot:/host/boot:ro -v /lib/modules:/host/lib/modules:ro -v /usr:/host/usr:ro -v /etc:/host/etc:ro --name NAME IMAGE"',
    );
    expect(dockerfile).toMatch(/^ENTRYPOINT \["\/docker-entrypoint\.sh"\]$/m);
    expect(dockerfile).toContain('COPY packaging/docker/docker-entrypoint.sh /docker-entrypoint.sh');
    // The single executable of the same checkout, not one built inside the image.
    expect(dockerfile).toContain(
      ['COPY dist/falco-driver-loader-$', '{LOADER_VERSION}-$', '{LOADER_ARCH} /usr/bin/falco-driver-loader'].join(''),
    );
  });

  it('has an entrypoint that execs the loader', () => {
    const script = read('docker/docker-entrypoint.sh');
    expect(script).toMatch(/^exec "\$loader" "\$@"$/m);
    expect(statSync(path.join(pkgDir, 'docker', 'docker-entrypoint.sh')).mode & 0o111).not.toBe(0);
  });

  it('Helm values point the chart’s driver-loader init container at this image, at this version', () => {
    const values = read('helm/values-driver-loader.yaml');
    expect(values).toMatch(
      /^driver:\n(?:.*\n)*? {2}loader:\n {4}enabled: true\n {4}initContainer:\n {6}image:\n(?: {8}#.*\n)* {8}registry: \S+\n {8}repository: falco-driver-loader\n {8}tag: "([^"]+)"\n/m,
    );
    expect(/^ {8}tag: "([^"]+)"$/m.exec(values)?.[1]).toBe(productVersion);
    expect(values).toMatch(/^ {6}args: \[\]$/m);
    expect(values).toMatch(/^ {6}env: \[\]$/m);
    expect(values).not.toMatch(/\t/);
  });
});

describe('release scripts', () => {
  it('are wired into package.json', () => {
    const scripts: Record<string, string> = JSON.parse(
      readFileSync(path.join(repoRoot, 'package.json'), 'utf8'),
    ).scripts;
    expect(scripts['build:sea']).toBe('node packaging/build-sea.mjs --arch all');
    expect(scripts['release:build']).toBe('bash packaging/release.sh');
    expect(scripts['check:packages']).toBe('bash packaging/ci-check.sh');
    expect(scripts['build:image']).toBe('bash packaging/build-image.sh');
    for (const script of [
      'build-deb.sh',
      'build-rpm.sh',
      'release.sh',
      'ci-check.sh',
      'build-image.sh',
      'image-check.sh',
    ]) {
      expect(existsSync(path.join(pkgDir, script))).toBe(true);
      expect(statSync(path.join(pkgDir, script)).mode & 0o111).not.toBe(0);
    }
  });
});

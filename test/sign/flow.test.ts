import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseCert } from '../../src/sign/cert.js';
import { appendSignature, buildSignedData, signedBy, splitSignature } from '../../src/sign/pkcs7.js';
import { tempDir } from '../helpers/tmp.js';
import { DEBIAN_OS_RELEASE } from '../kmod/fakeKernel.js';
import { moduleFor } from '../kmod/modules.js';
import { makeKey, type TestKey } from './keys.js';
import { SigningKernel, signingArgs } from './signingKernel.js';

const FILE = 'falco_centos_6.1.0-13-amd64_1.ko';

function cache(k: SigningKernel, module: string | Buffer): string {
  const file = k.cachePath(FILE);
  mkdirSync(path.dirname(file), { recursive: true });
  if (typeof module === 'string') copyFileSync(module, file);
  else writeFileSync(file, module);
  return file;
}

function signedWith(module: Buffer, key: TestKey): Buffer {
  return appendSignature(module, buildSignedData(module, key.key, parseCert(key.certDer), 'sha256'));
}

function isSignedBy(file: string, key: TestKey): boolean {
  const sig = splitSignature(readFileSync(file));
  return sig !== undefined && signedBy(sig, parseCert(key.certDer));
}

describe('cached and downloaded modules are signed in the cache before insmod', () => {
  it('signs a cached module in place, insmods it, and does not sign it again on the next run', async () => {
    const k = new SigningKernel().enforce();
    const { key, files, argv } = signingArgs();
    const original = readFileSync(moduleFor(k.release));
    const file = cache(k, original);
    const first = await k.run(['--compile', ...argv]);
    expect(first.stdout).toContain(
      `* Signing modules before insmod with 'Falco test signing key' (${files.certDer}, sha256) using the built-in signer\n`,
    );
    expect(first.stdout).toContain(`* Signed by 'Falco test signing key' (sha256, built-in signer): ${file}\n`);
    expect(first.stdout).toContain('* Success: falco module found and inserted\n');
    expect(first.code).toBe(0);
    expect(k.callsOf('insmod')).toEqual([`insmod ${file}`]);
    expect(isSignedBy(file, key)).toBe(true);
    expect(splitSignature(readFileSync(file))?.unsigned.equals(original)).toBe(true);
    // Nothing but the signed file is left in the cache directory (no temp files, no certificate copies).
    expect(readdirSync(path.dirname(file))).toEqual([FILE]);

    const before = readFileSync(file);
    const second = await k.run(['--compile', ...argv]);
    expect(second.stdout).toContain(`* ${file} is already signed by 'Falco test signing key': not signed again\n`);
    expect(second.code).toBe(0);
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  it('replaces the signature of another key (the kernel checks one) and keeps the module bytes', async () => {
    const k = new SigningKernel();
    const { key, argv } = signingArgs();
    const other = makeKey('Someone else');
    const original = readFileSync(moduleFor(k.release));
    const file = cache(k, signedWith(original, other));
    const result = await k.run(['--compile', ...argv]);
    expect(result.stdout).toMatch(
      /\* .*\.ko carries a signature by 'Someone else' \(serial [0-9A-F:]+\): replacing it with a signature by 'Falco test signing key' \(the kernel checks only one\)\n/,
    );
    expect(result.code).toBe(0);
    expect(isSignedBy(file, key)).toBe(true);
    expect(splitSignature(readFileSync(file))?.unsigned.equals(original)).toBe(true);
  });

  it('signs a downloaded module before its insmod', async () => {
    const k = new SigningKernel();
    const { key, argv } = signingArgs();
    const mirror = tempDir('fdl-mirror-');
    mkdirSync(path.join(mirror, '6.0.1+driver/x86_64'), { recursive: true });
    copyFileSync(moduleFor(k.release), path.join(mirror, '6.0.1+driver/x86_64', FILE));
    const result = await k.run(['--download', ...argv], { DRIVERS_REPO: `file://${mirror}` });
    expect(result.stdout).toContain('* Download succeeded\n');
    expect(result.stdout).toContain(`(sha256, built-in signer): ${k.cachePath(FILE)}\n`);
    expect(result.code).toBe(0);
    expect(isSignedBy(k.cachePath(FILE), key)).toBe(true);
    expect(k.callsOf('insmod')).toEqual([`insmod ${k.cachePath(FILE)}`]);
  });

  it('refuses a key readable by others before anything runs (no Cleaning phase)', async () => {
    const k = new SigningKernel();
    const { files, argv } = signingArgs();
    chmodSync(files.key, 0o644);
    const result = await k.run(['--compile', ...argv]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `Refusing the signing key ${files.key}: its mode 0644 lets group or others read or write it; run chmod 600 ${files.key} (a Kubernetes secret needs defaultMode: 0400)\n`,
    );
    expect(result.stdout).not.toContain('Cleaning phase');
    expect(k.calls()).toEqual([]);
  });
});

describe('signature enforcement: refusal and diagnosis', () => {
  it('unsigned module on a sig_enforce kernel: the diagnosis once, and the cached file is kept', async () => {
    const k = new SigningKernel({ without: ['dkms'] }).enforce();
    k.write('sys/kernel/security/lockdown', 'none [integrity] confidentiality\n');
    const file = cache(k, moduleFor(k.release));
    const result = await k.run(['--compile']);
    expect(result.stderr).toContain(
      [
        `insmod: ERROR: could not insert module ${file}: Key was rejected by service`,
        '* Module signature checks: Secure Boot off, lockdown integrity, module.sig_enforce Y',
        '  so this kernel refuses a module unless it is signed by a key it trusts (built in, or enrolled as a MOK)',
        '  What will work:',
        '  - sign with an enrolled key: make a key pair, enroll the certificate with mokutil --import <cert> (then reboot), run with --sign-key <key> --sign-cert <cert>',
        '  - DKMS with MOK signing: dkms is not installed (dkms 3.0.4 and later sign their builds with /var/lib/dkms/mok.key)',
        '  - modern_ebpf: needs no module, but cannot work here: no kernel BTF at /sys/kernel/btf/vmlinux (the kernel needs CONFIG_DEBUG_INFO_BTF=y)',
        '',
      ].join('\n'),
    );
    expect(result.stderr.split('* Module signature checks').length).toBe(2);
    expect(existsSync(file)).toBe(true);
    expect(result.code).toBe(1);
  });

  it('signed with a key the kernel does not trust: says to enroll that certificate', async () => {
    const k = new SigningKernel({ without: ['dkms'] }).enforce();
    k.write('sys/kernel/btf/vmlinux', 'btf');
    const { files, argv } = signingArgs();
    cache(k, moduleFor(k.release));
    const result = await k.run(['--compile', ...argv], { FAKE_UNTRUSTED: '1' });
    expect(result.stderr).toContain(
      `  - the module was signed with 'Falco test signing key', but the kernel does not trust that key: enroll it with mokutil --import ${files.certDer} and reboot (mokutil --test-key ${files.certDer} tells whether it is)\n`,
    );
    expect(result.stderr).toContain(
      '  - modern_ebpf: needs no module, and this kernel can run it (falco-driver-loader modern_ebpf)\n',
    );
    expect(result.code).toBe(1);
  });

  it('"Key was rejected" where the switches cannot be read still explains', async () => {
    const k = new SigningKernel({ without: ['dkms'] });
    cache(k, moduleFor(k.release));
    const result = await k.run(['--compile'], { FAKE_INSMOD_ERROR: 'Key was rejected by service' });
    expect(result.stderr).toContain(
      "* Module signature checks: Secure Boot off, lockdown not available, module.sig_enforce not available\n  and insmod says this kernel refused the module's signature (it has none, or one by a key the kernel does not trust)\n  What will work:\n",
    );
  });

  it('the signed module loads where the unsigned one was refused', async () => {
    const k = new SigningKernel().enforce();
    const { argv } = signingArgs();
    cache(k, moduleFor(k.release));
    const result = await k.run(['--compile', ...argv]);
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain('Key was rejected');
    expect(k.loadedVersion()).toBe('6.0.1+driver');
  });
});

describe('DKMS builds: signed into a copy in the cache, /var/lib/dkms untouched', () => {
  function kernel(): SigningKernel {
    const k = new SigningKernel({ osRelease: DEBIAN_OS_RELEASE });
    k.headers();
    return k;
  }
  const built = (k: SigningKernel, suffix = '') =>
    path.join(k.sysroot, `var/lib/dkms/falco/6.0.1+driver/${k.release}/x86_64/module/falco.ko${suffix}`);
  const copy = (k: SigningKernel) => path.join(path.dirname(k.cachePath(FILE)), `falco-${k.release}.signed.ko`);

  it('signs a copy and insmods it; the dkms module stays as dkms built it', async () => {
    const k = kernel().enforce();
    const { key, argv } = signingArgs();
    const module = moduleFor(k.release);
    const result = await k.run(['--compile', ...argv], { FAKE_DKMS_MODULE: module });
    expect(result.stdout).toContain(`(sha256, built-in signer): ${copy(k)}\n`);
    expect(result.stdout).toContain('* Success: falco module found and loaded in dkms\n');
    expect(result.code).toBe(0);
    expect(k.callsOf('insmod')).toEqual([`insmod ${copy(k)}`]);
    expect(readFileSync(built(k)).equals(readFileSync(module))).toBe(true);
    expect(isSignedBy(copy(k), key)).toBe(true);
  });

  it('decompresses a .ko.gz build before signing it', async () => {
    const k = kernel();
    const { key, argv } = signingArgs();
    const raw = readFileSync(moduleFor(k.release));
    const gz = path.join(tempDir(), 'falco.ko.gz');
    writeFileSync(gz, gzipSync(raw));
    const result = await k.run(['--compile', ...argv], { FAKE_DKMS_MODULE: gz, FAKE_DKMS_SUFFIX: '.gz' });
    expect(result.code).toBe(0);
    expect(splitSignature(readFileSync(copy(k)))?.unsigned.equals(raw)).toBe(true);
    expect(isSignedBy(copy(k), key)).toBe(true);
    expect(readFileSync(built(k, '.gz')).equals(readFileSync(gz))).toBe(true);
  });

  it('a .ko.xz build without xz on PATH: one line saying it cannot be decompressed here', async () => {
    const k = kernel();
    const { argv } = signingArgs();
    const result = await k.run(['--compile', ...argv], {
      FAKE_DKMS_MODULE: moduleFor(k.release),
      FAKE_DKMS_SUFFIX: '.xz',
    });
    expect(result.stderr).toContain(
      `cannot decompress ${built(k, '.xz')} to sign it: xz is not on PATH (install xz-utils)\n`,
    );
    expect(k.callsOf('insmod')).toEqual([]);
    expect(result.code).toBe(1);
  });

  it.runIf(existsSync('/usr/bin/xz'))('a .ko.xz build with xz on PATH: decompressed, signed, loaded', async () => {
    const k = kernel();
    symlinkSync('/usr/bin/xz', path.join(k.bin.dir, 'tools', 'xz'));
    const { key, argv } = signingArgs();
    const raw = readFileSync(moduleFor(k.release));
    const dir = tempDir();
    writeFileSync(path.join(dir, 'falco.ko'), raw);
    execFileSync('/usr/bin/xz', ['-z', path.join(dir, 'falco.ko')]);
    const result = await k.run(['--compile', ...argv], {
      FAKE_DKMS_MODULE: path.join(dir, 'falco.ko.xz'),
      FAKE_DKMS_SUFFIX: '.xz',
    });
    expect(result.code).toBe(0);
    expect(k.callsOf('insmod')).toEqual([`insmod ${copy(k)}`]);
    expect(splitSignature(readFileSync(copy(k)))?.unsigned.equals(raw)).toBe(true);
    expect(isSignedBy(copy(k), key)).toBe(true);
  });

  it('a build already signed by the certificate (DKMS MOK = --sign-cert) is loaded as it is', async () => {
    const k = kernel();
    const { key, argv } = signingArgs();
    const presigned = path.join(tempDir(), 'falco.ko');
    writeFileSync(presigned, signedWith(readFileSync(moduleFor(k.release)), key));
    const result = await k.run(['--compile', ...argv], { FAKE_DKMS_MODULE: presigned });
    expect(result.stdout).toContain(`* ${built(k)} is already signed by 'Falco test signing key': not signed again\n`);
    expect(k.callsOf('insmod')).toEqual([`insmod ${built(k)}`]);
    expect(existsSync(copy(k))).toBe(false);
    expect(result.code).toBe(0);
  });

  it('a build signed by DKMS with another MOK is re-signed into the copy', async () => {
    const k = kernel();
    const { key, argv } = signingArgs();
    const mok = makeKey('DKMS module signing key');
    const presigned = path.join(tempDir(), 'falco.ko');
    writeFileSync(presigned, signedWith(readFileSync(moduleFor(k.release)), mok));
    const result = await k.run(['--compile', ...argv], { FAKE_DKMS_MODULE: presigned });
    expect(result.stdout).toContain("carries a signature by 'DKMS module signing key'");
    expect(isSignedBy(copy(k), key)).toBe(true);
    expect(isSignedBy(built(k), mok)).toBe(true);
    expect(result.code).toBe(0);
  });

  it('without a key, on an enforcing kernel: says whose signature the dkms build carries', async () => {
    const k = kernel().enforce();
    const mok = makeKey('DKMS module signing key');
    const presigned = path.join(tempDir(), 'falco.ko');
    writeFileSync(presigned, signedWith(readFileSync(moduleFor(k.release)), mok));
    const result = await k.run(['--compile'], { FAKE_DKMS_MODULE: presigned });
    expect(result.stdout).toMatch(/\* The dkms build carries a signature by 'DKMS module signing key' \(serial /);
    expect(result.code).toBe(0);
  });
});

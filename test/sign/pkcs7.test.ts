import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bufferSource } from '../../src/artifact/elf.js';
import { parseCert } from '../../src/sign/cert.js';
import { describeSigner } from '../../src/sign/module.js';
import {
  appendSignature,
  buildSignedData,
  MODULE_SIG_MARKER,
  parseSignedData,
  readTrailer,
  signedBy,
  signedByStream,
  splitSignature,
  streamingSigner,
} from '../../src/sign/pkcs7.js';
import { tempDir } from '../helpers/tmp.js';
import { moduleFor } from '../kmod/modules.js';
import { hostProgram, makeKey, skipNote, writeKey } from './keys.js';

const RELEASE = '6.1.0-13-amd64';
const openssl = hostProgram('openssl');
const modinfo = hostProgram('modinfo');
/** The kernel's own sign-file: FALCO_TEST_SIGN_FILE, or one from installed headers/kbuild. */
const kernelSignFile = [
  process.env.FALCO_TEST_SIGN_FILE ?? '',
  '/usr/lib/linux-kbuild-6.1/scripts/sign-file',
  `/lib/modules/${RELEASE}/build/scripts/sign-file`,
].find((f) => f !== '' && existsSync(f));

function signBuiltin(module: Buffer, k: ReturnType<typeof makeKey>, hash: 'sha256' | 'sha384' = 'sha256') {
  const cert = parseCert(k.certDer);
  return appendSignature(module, buildSignedData(module, k.key, cert, hash));
}

describe('module signature trailer (module-signing.rst)', () => {
  it('appends PKCS#7, struct module_signature and the marker, and splits back exactly', () => {
    const k = makeKey('Trailer test');
    const module = readFileSync(moduleFor(RELEASE));
    const signed = signBuiltin(module, k);
    expect(signed.subarray(-28)).toEqual(MODULE_SIG_MARKER);
    const info = signed.subarray(-40, -28);
    expect([...info.subarray(0, 8)]).toEqual([0, 0, 2, 0, 0, 0, 0, 0]);
    const sig = splitSignature(signed);
    expect(sig?.unsigned.equals(module)).toBe(true);
    expect(info.readUInt32BE(8)).toBe(sig?.pkcs7.length);
    expect(sig?.hash).toBe('sha256');
    expect(sig?.problem).toBeUndefined();
    expect(signedBy(sig as NonNullable<typeof sig>, parseCert(k.certDer))).toBe(true);
  });

  it('the streaming signer and verifier (issue #17) agree byte for byte with the in-memory ones', async () => {
    const k = makeKey('Streaming test');
    const cert = parseCert(k.certDer);
    const module = readFileSync(moduleFor(RELEASE));
    const signing = streamingSigner(k.key, cert, 'sha256');
    for (let at = 0; at < module.length; at += 100) signing.update(module.subarray(at, at + 100));
    const pkcs7 = signing.finish();
    expect(pkcs7.equals(buildSignedData(module, k.key, cert, 'sha256'))).toBe(true);
    const signed = appendSignature(module, pkcs7);
    const trailer = readTrailer(bufferSource(signed));
    expect(trailer?.unsignedLength).toBe(module.length);
    async function* chunks(data: Buffer) {
      yield data.subarray(0, 7);
      yield data.subarray(7);
    }
    const t = trailer as NonNullable<typeof trailer>;
    expect(await signedByStream(t, cert, chunks(module))).toBe(true);
    const changed = Buffer.from(module);
    changed.writeUInt8(changed.readUInt8(changed.length - 1) ^ 1, changed.length - 1);
    expect(await signedByStream(t, cert, chunks(changed))).toBe(false);
  });

  it('an unsigned module has no trailer', () => {
    expect(splitSignature(readFileSync(moduleFor(RELEASE)))).toBeUndefined();
    expect(splitSignature(Buffer.from('short'))).toBeUndefined();
  });

  it('a damaged or old-style trailer is reported, never trusted', () => {
    const module = readFileSync(moduleFor(RELEASE));
    const tooLong = Buffer.alloc(12);
    tooLong[2] = 2;
    tooLong.writeUInt32BE(module.length + 100, 8);
    expect(splitSignature(Buffer.concat([module, tooLong, MODULE_SIG_MARKER]))?.problem).toMatch(/runs past/);
    const old = Buffer.alloc(12);
    old[2] = 1;
    old.writeUInt32BE(4, 8);
    const oldStyle = splitSignature(Buffer.concat([module, Buffer.from('abcd'), old, MODULE_SIG_MARKER]));
    expect(oldStyle?.problem).toMatch(/old-style signature \(id_type 1\)/);
    expect(oldStyle?.unsigned.equals(module)).toBe(true);
    const garbage = Buffer.alloc(12);
    garbage[2] = 2;
    garbage.writeUInt32BE(5, 8);
    const unreadable = splitSignature(Buffer.concat([module, Buffer.from('\x30\x80abc'), garbage, MODULE_SIG_MARKER]));
    expect(unreadable?.problem).toMatch(/unreadable PKCS#7/);
    expect(describeSigner(unreadable as NonNullable<typeof unreadable>)).toMatch(/unreadable PKCS#7/);
  });

  it('already-signed detection: same certificate yes; another certificate, or changed bytes, no', () => {
    const a = makeKey('Key A');
    const b = makeKey('Key B');
    const module = readFileSync(moduleFor(RELEASE));
    const sig = splitSignature(signBuiltin(module, a)) as NonNullable<ReturnType<typeof splitSignature>>;
    expect(signedBy(sig, parseCert(a.certDer))).toBe(true);
    expect(signedBy(sig, parseCert(b.certDer))).toBe(false);
    const tampered = Buffer.from(sig.unsigned);
    tampered.writeUInt8(tampered.readUInt8(100) ^ 0xff, 100);
    expect(signedBy({ ...sig, unsigned: tampered }, parseCert(a.certDer))).toBe(false);
    expect(describeSigner(sig)).toBe(
      `a signature by 'Key A' (serial ${[...a.serial].map((x) => x.toString(16).toUpperCase().padStart(2, '0')).join(':')})`,
    );
  });

  it('EC keys: ecdsa-with-<hash>, verified by the certificate', () => {
    for (const kind of ['p256', 'p384'] as const) {
      const k = makeKey(`EC ${kind}`, kind);
      const module = readFileSync(moduleFor(RELEASE));
      const sig = splitSignature(signBuiltin(module, k, 'sha384'));
      expect(sig?.hash).toBe('sha384');
      expect(signedBy(sig as NonNullable<typeof sig>, parseCert(k.certDer))).toBe(true);
    }
  });
});

/** `openssl cms -sign` the way sign-file signs: binary, no attributes, no certificates, detached, DER. */
function cmsSign(files: { certPem: string; key: string }, ko: string, out: string, extra: string[] = []): void {
  const fixed = 'cms -sign -binary -noattr -nocerts -outform DER -md sha256'.split(' ');
  execFileSync(openssl as string, [
    ...fixed,
    ...extra,
    '-signer',
    files.certPem,
    '-inkey',
    files.key,
    '-in',
    ko,
    '-out',
    out,
  ]);
}

function cmsVerify(sigFile: string, ko: string, certPem: string) {
  const fixed = 'cms -verify -binary -inform DER -noverify -out /dev/null'.split(' ');
  return spawnSync(openssl as string, [...fixed, '-in', sigFile, '-content', ko, '-certfile', certPem], {
    encoding: 'utf8',
  });
}

describe.runIf(openssl !== undefined)('cross-check with openssl cms', () => {
  it('RSA: byte-identical to `openssl cms -sign -binary -noattr -nocerts`, and openssl verifies it', () => {
    const k = makeKey('Falco throwaway');
    const files = writeKey(k);
    const ko = moduleFor(RELEASE);
    const ours = splitSignature(signBuiltin(readFileSync(ko), k))?.pkcs7 as Buffer;
    const theirs = path.join(files.dir, 'cms.der');
    cmsSign(files, ko, theirs);
    expect(ours.equals(readFileSync(theirs))).toBe(true);
    const sigFile = path.join(files.dir, 'ours.der');
    writeFileSync(sigFile, ours);
    const verify = cmsVerify(sigFile, ko, files.certPem);
    expect(verify.stderr).toContain('Verification successful');
    expect(verify.status).toBe(0);
  });

  it('EC P-256: openssl verifies it', () => {
    const k = makeKey('Falco EC', 'p256');
    const files = writeKey(k);
    const ko = moduleFor(RELEASE);
    const sigFile = path.join(files.dir, 'ec.der');
    writeFileSync(sigFile, splitSignature(signBuiltin(readFileSync(ko), k))?.pkcs7 as Buffer);
    const verify = cmsVerify(sigFile, ko, files.certPem);
    expect(verify.status, verify.stderr).toBe(0);
  });

  it('a signature naming the signer by subjectKeyIdentifier (`-keyid`, sign-file -k) is recognised', () => {
    const k = makeKey('Key by id');
    const files = writeKey(k);
    const ko = moduleFor(RELEASE);
    const out = path.join(files.dir, 'keyid.der');
    cmsSign(files, ko, out, ['-keyid']);
    const sig = splitSignature(appendSignature(readFileSync(ko), readFileSync(out)));
    expect(sig?.signer?.kind).toBe('keyId');
    expect(signedBy(sig as NonNullable<typeof sig>, parseCert(k.certDer))).toBe(true);
    expect(signedBy(sig as NonNullable<typeof sig>, parseCert(makeKey('Other').certDer))).toBe(false);
  });
});
if (openssl === undefined) skipNote('openssl cms cross-checks', 'openssl is not installed');

describe.runIf(modinfo !== undefined)("cross-check with kmod's modinfo", () => {
  it('modinfo reads signer, sig_key and sig_hashalgo from the built-in signature', () => {
    const k = makeKey('Falco modinfo check');
    const dir = tempDir();
    const file = path.join(dir, 'falco.ko');
    writeFileSync(file, signBuiltin(readFileSync(moduleFor(RELEASE)), k, 'sha384'));
    const text = execFileSync(modinfo as string, [file], { encoding: 'utf8' });
    expect(text).toMatch(/^sig_id:\s+PKCS#7$/m);
    expect(text).toMatch(/^signer:\s+Falco modinfo check$/m);
    const serial = [...k.serial].map((x) => x.toString(16).toUpperCase().padStart(2, '0')).join(':');
    expect(text).toMatch(new RegExp(`^sig_key:\\s+${serial}$`, 'm'));
    expect(text).toMatch(/^sig_hashalgo:\s+sha384$/m);
  });
});
if (modinfo === undefined) skipNote('modinfo cross-check', 'kmod (modinfo) is not installed');

describe.runIf(kernelSignFile !== undefined)("cross-check with the kernel's scripts/sign-file", () => {
  it('RSA: the built-in signer writes the same bytes as sign-file; EC: sign-file output is read back', () => {
    const k = makeKey('Kernel sign-file check');
    const files = writeKey(k);
    const ko = moduleFor(RELEASE);
    const theirs = path.join(files.dir, 'sf.ko');
    copyFileSync(ko, theirs);
    execFileSync(kernelSignFile as string, ['sha256', files.key, files.certDer, theirs]);
    expect(readFileSync(theirs).equals(signBuiltin(readFileSync(ko), k))).toBe(true);

    const ec = makeKey('Kernel sign-file EC', 'p384');
    const ecFiles = writeKey(ec);
    const ecSigned = path.join(ecFiles.dir, 'ec.ko');
    copyFileSync(ko, ecSigned);
    execFileSync(kernelSignFile as string, ['sha512', ecFiles.key, ecFiles.certPem, ecSigned]);
    const sig = splitSignature(readFileSync(ecSigned));
    expect(sig?.hash).toBe('sha512');
    expect(signedBy(sig as NonNullable<typeof sig>, parseCert(ec.certDer))).toBe(true);
    expect(parseSignedData(sig?.pkcs7 as Buffer).signer.kind).toBe('issuerSerial');
  });
});
if (kernelSignFile === undefined) {
  skipNote('scripts/sign-file cross-check', 'no sign-file: set FALCO_TEST_SIGN_FILE (e.g. from linux-kbuild-6.1)');
}

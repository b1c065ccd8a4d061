import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { loadSigningMaterial, readCert, type SigningConfig } from '../../src/sign/material.js';
import { tempDir } from '../helpers/tmp.js';
import { makeKey, writeKey } from './keys.js';

const config = (keyFile: string, certFile: string): SigningConfig => ({
  keyFile,
  certFile,
  hash: 'sha256',
  tool: 'auto',
  sources: { key: 'test', cert: 'test', hash: 'default', tool: 'default' },
});

function errorOf(fn: () => unknown): UserError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return error as UserError;
  }
  throw new Error('expected a UserError');
}

describe('signing key permission checks', () => {
  it.each([0o644, 0o640, 0o604, 0o660, 0o620, 0o602, 0o666])('refuses a key with mode %s, in one line', (mode) => {
    const k = makeKey('Perms');
    const files = writeKey(k, mode);
    const error = errorOf(() => loadSigningMaterial(config(files.key, files.certPem), {}));
    const octal = mode.toString(8).padStart(4, '0');
    expect(error.message).toBe(
      `Refusing the signing key ${files.key}: its mode ${octal} lets group or others read or write it; run chmod 600 ${files.key} (a Kubernetes secret needs defaultMode: 0400)`,
    );
    expect(error.message).not.toContain('PRIVATE KEY');
  });

  it.each([0o600, 0o400])('accepts mode %s and checks that key and certificate match', (mode) => {
    const k = makeKey('Perms ok');
    const files = writeKey(k, mode);
    const material = loadSigningMaterial(config(files.key, files.certPem), {});
    expect(material.cert.name).toBe('Perms ok');
    expect(material.key.asymmetricKeyType).toBe('rsa');
  });

  it('checks the file the symlink points to (a Kubernetes secret mount is a symlink)', () => {
    const k = makeKey('Symlinked');
    const files = writeKey(k, 0o644);
    const link = path.join(files.dir, 'link.pem');
    symlinkSync(files.key, link);
    expect(errorOf(() => loadSigningMaterial(config(link, files.certPem), {})).message).toMatch(/mode 0644/);
    chmodSync(files.key, 0o400);
    expect(loadSigningMaterial(config(link, files.certPem), {}).cert.name).toBe('Symlinked');
  });

  it('refuses a missing key, a directory, and a key of another certificate', () => {
    const a = makeKey('Key A');
    const b = makeKey('Key B');
    const files = writeKey(a);
    const other = writeKey(b);
    expect(errorOf(() => loadSigningMaterial(config('/nonexistent/key.pem', files.certPem), {})).message).toBe(
      'Cannot read the signing key /nonexistent/key.pem: ENOENT',
    );
    const dir = path.join(files.dir, 'd');
    mkdirSync(dir, { mode: 0o700 });
    expect(errorOf(() => loadSigningMaterial(config(dir, files.certPem), {})).message).toBe(
      `The signing key ${dir} is not a regular file`,
    );
    expect(errorOf(() => loadSigningMaterial(config(files.key, other.certDer), {})).message).toBe(
      `The signing key ${files.key} does not belong to the certificate ${other.certDer} (Key B): give the certificate made with that key`,
    );
  });
});

describe('key and certificate formats', () => {
  it('reads PEM and DER certificates to the same identity', () => {
    const k = makeKey('Formats');
    const files = writeKey(k);
    const pem = readCert(files.certPem);
    const der = readCert(files.certDer);
    expect(pem.issuer.equals(der.issuer)).toBe(true);
    expect(pem.serial.equals(der.serial)).toBe(true);
    expect(pem.keyId?.length).toBe(20);
    expect(pem.name).toBe('Formats');
  });

  it('reads DER keys (PKCS#8, PKCS#1, SEC1) and a kernel-style PEM holding key and certificate', () => {
    const rsa = makeKey('DER RSA');
    const ec = makeKey('DER EC', 'p256');
    const dir = tempDir();
    const cases: Array<[string, Buffer | string, string]> = [
      ['pkcs8.der', rsa.key.export({ type: 'pkcs8', format: 'der' }), rsa.certPem],
      ['pkcs1.der', rsa.key.export({ type: 'pkcs1', format: 'der' }), rsa.certPem],
      ['sec1.der', ec.key.export({ type: 'sec1', format: 'der' }), ec.certPem],
      ['pkcs1.pem', rsa.key.export({ type: 'pkcs1', format: 'pem' }), rsa.certPem],
      ['signing_key.pem', `${rsa.keyPem}${rsa.certPem}`, rsa.certPem],
    ];
    for (const [name, key, cert] of cases) {
      const keyFile = path.join(dir, name);
      const certFile = path.join(dir, `${name}.crt`);
      writeFileSync(keyFile, key, { mode: 0o600 });
      writeFileSync(certFile, cert);
      expect(loadSigningMaterial(config(keyFile, certFile), {}).cert.serial.length, name).toBeGreaterThan(0);
    }
    // The combined file serves as certificate too, as the kernel's certs/signing_key.pem does.
    expect(readCert(path.join(dir, 'signing_key.pem')).name).toBe('DER RSA');
  });

  it('an encrypted key needs KBUILD_SIGN_PIN, like sign-file', () => {
    const k = makeKey('Encrypted');
    const files = writeKey(k);
    writeFileSync(
      files.key,
      k.key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'hunter2' }),
      { mode: 0o600 },
    );
    expect(errorOf(() => loadSigningMaterial(config(files.key, files.certPem), {})).message).toMatch(
      /^Cannot use the signing key .*key\.pem: it is encrypted: set KBUILD_SIGN_PIN to its passphrase/,
    );
    expect(loadSigningMaterial(config(files.key, files.certPem), { KBUILD_SIGN_PIN: 'hunter2' }).cert.name).toBe(
      'Encrypted',
    );
  });

  it('refuses key types the kernel cannot verify, and garbage', () => {
    const dir = tempDir();
    const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' });
    const edFile = path.join(dir, 'ed.pem');
    writeFileSync(edFile, ed, { mode: 0o600 });
    const cert = writeKey(makeKey('Any')).certPem;
    expect(errorOf(() => loadSigningMaterial(config(edFile, cert), {})).message).toBe(
      `The signing key ${edFile} is a ed25519 key: kernel module signatures need RSA or ECDSA on P-256/P-384`,
    );
    const junk = path.join(dir, 'junk');
    writeFileSync(junk, 'not a key', { mode: 0o600 });
    expect(errorOf(() => loadSigningMaterial(config(junk, cert), {})).message).toMatch(
      /^Cannot use the signing key .*junk: expected a PEM or DER private key/,
    );
    expect(errorOf(() => readCert(junk)).message).toMatch(
      /^The certificate .*junk is not a PEM or DER X\.509 certificate/,
    );
  });
});

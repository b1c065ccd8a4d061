import { createPrivateKey, type KeyObject } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { UserError } from '../errors.js';
import { type CertInfo, parseCert } from './cert.js';
import type { HashName, SignTool } from './choices.js';
import { DerError } from './der.js';

/** What the user asked for (settings), before any file is read. */
export interface SigningConfig {
  readonly keyFile: string;
  readonly certFile: string;
  readonly hash: HashName;
  readonly tool: SignTool;
  /** Where each came from, for --dry-run. */
  readonly sources: { readonly key: string; readonly cert: string; readonly hash: string; readonly tool: string };
}

export { SIGN_TOOLS, type SignTool } from './choices.js';

/** The key and certificate, read and checked once per run. */
export interface SigningMaterial {
  readonly config: SigningConfig;
  readonly key: KeyObject;
  readonly cert: CertInfo;
}

const MAX_KEY_BYTES = 1024 * 1024;

/**
 * Reads the key once, through one file descriptor (the mode checked is the mode of the file read), refuses it when
 * group or others may read or write it, and checks that it belongs to the certificate. The key's bytes are wiped
 * after parsing; they are never printed, logged or written anywhere. KBUILD_SIGN_PIN is the passphrase of an
 * encrypted key, as for the kernel's own sign-file.
 */
export function loadSigningMaterial(config: SigningConfig, env: NodeJS.ProcessEnv): SigningMaterial {
  const keyBytes = readPrivate(config.keyFile);
  let key: KeyObject;
  try {
    key = parsePrivateKey(config.keyFile, keyBytes, env.KBUILD_SIGN_PIN);
  } finally {
    keyBytes.fill(0);
  }
  const type = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (type !== 'rsa' && !(type === 'ec' && (curve === 'prime256v1' || curve === 'secp384r1'))) {
    throw new UserError(
      `The signing key ${config.keyFile} is ${type === 'ec' ? `an EC key on ${curve ?? 'an unknown curve'}` : `a ${type ?? 'unknown'} key`}: kernel module signatures need RSA or ECDSA on P-256/P-384`,
    );
  }
  const cert = readCert(config.certFile);
  if (!cert.x509.checkPrivateKey(key)) {
    throw new UserError(
      `The signing key ${config.keyFile} does not belong to the certificate ${config.certFile} (${cert.name}): give the certificate made with that key`,
    );
  }
  return { config, key, cert };
}

function readPrivate(file: string): Buffer {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw new UserError(`Cannot read the signing key ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new UserError(`The signing key ${file} is not a regular file`);
    if ((stat.mode & 0o077) !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
      throw new UserError(
        `Refusing the signing key ${file}: its mode ${mode} lets group or others read or write it; run chmod 600 ${file} (a Kubernetes secret needs defaultMode: 0400)`,
      );
    }
    if (stat.size > MAX_KEY_BYTES) throw new UserError(`The signing key ${file} is too large to be a private key`);
    return readWhole(fd, stat.size);
  } finally {
    closeSync(fd);
  }
}

/** PEM (PKCS#8, PKCS#1, SEC1; a kernel signing_key.pem with the certificate in it too) or DER. */
function parsePrivateKey(file: string, bytes: Buffer, pin: string | undefined): KeyObject {
  const passphrase = pin === undefined || pin === '' ? {} : { passphrase: pin };
  const pem = bytes.includes('-----BEGIN');
  const attempts: Array<Parameters<typeof createPrivateKey>[0]> = pem
    ? [{ key: bytes, format: 'pem', ...passphrase }]
    : (['pkcs8', 'pkcs1', 'sec1'] as const).map((type) => ({ key: bytes, format: 'der', type, ...passphrase }));
  let last: unknown;
  for (const attempt of attempts) {
    try {
      return createPrivateKey(attempt);
    } catch (error) {
      last = error;
    }
  }
  // Node's message names the OpenSSL failure only, never key material.
  const reason = last instanceof Error ? last.message : String(last);
  const hint = /passphrase|bad decrypt|interrupted/i.test(reason)
    ? 'it is encrypted: set KBUILD_SIGN_PIN to its passphrase'
    : 'expected a PEM or DER private key';
  throw new UserError(`Cannot use the signing key ${file}: ${hint} (${reason})`);
}

const MAX_CERT_BYTES = 1024 * 1024;

/** A PEM or DER X.509 certificate (public: may be read and shown freely). */
export function readCert(file: string): CertInfo {
  let bytes: Buffer;
  try {
    const fd = openSync(file, 'r');
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile() || stat.size > MAX_CERT_BYTES) throw new UserError(`${file} is not a certificate file`);
      bytes = readWhole(fd, stat.size);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw new UserError(`Cannot read the certificate ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    return parseCert(bytes);
  } catch (error) {
    if (error instanceof DerError || error instanceof Error) {
      throw new UserError(`The certificate ${file} is not a PEM or DER X.509 certificate (${error.message})`);
    }
    throw error;
  }
}

function readWhole(fd: number, size: number): Buffer {
  const buffer = Buffer.alloc(size);
  let got = 0;
  while (got < size) {
    const n = readSync(fd, buffer, got, size - got, got);
    if (n === 0) break;
    got += n;
  }
  return buffer.subarray(0, got);
}

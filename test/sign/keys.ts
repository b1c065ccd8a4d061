import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { oid, sequence, setOf, TAG, tlv } from '../../src/sign/der.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Throwaway key pairs and self-signed certificates made in-process (no openssl needed to run the core tests), the
 * same shape as the kernel's x509.genkey: CN, serial, subjectKeyIdentifier. Written under a temp dir only.
 */
export interface TestKey {
  readonly key: KeyObject;
  readonly certDer: Buffer;
  readonly certPem: string;
  readonly keyPem: string;
  readonly name: string;
  readonly serial: Buffer;
}

let serialCounter = 0x4000;
const made = new Map<string, TestKey>();

/** One key per (name, kind) per test file: RSA key generation is the slow part of these tests. */
export function makeKey(name: string, kind: 'rsa' | 'p256' | 'p384' = 'rsa'): TestKey {
  const id = `${kind}:${name}`;
  const known = made.get(id);
  if (known !== undefined) return known;
  const fresh = generate(name, kind);
  made.set(id, fresh);
  return fresh;
}

function generate(name: string, kind: 'rsa' | 'p256' | 'p384'): TestKey {
  const pair =
    kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: kind === 'p256' ? 'prime256v1' : 'secp384r1' });
  const spki = pair.publicKey.export({ type: 'spki', format: 'der' });
  const serial = Buffer.from([0x01, (serialCounter >> 8) & 0xff, serialCounter++ & 0xff, 0x42]);
  const dn = sequence(setOf(sequence(oid('2.5.4.3'), tlv(0x0c, Buffer.from(name, 'utf8')))));
  const sigAlg =
    kind === 'rsa'
      ? sequence(oid('1.2.840.113549.1.1.11'), tlv(TAG.NULL))
      : sequence(oid(kind === 'p256' ? '1.2.840.10045.4.3.2' : '1.2.840.10045.4.3.3'));
  const keyId = createHash('sha1').update(spki).digest();
  const ski = sequence(oid('2.5.29.14'), tlv(TAG.OCTET_STRING, tlv(TAG.OCTET_STRING, keyId)));
  const tbs = sequence(
    tlv(0xa0, tlv(TAG.INTEGER, Buffer.from([2]))),
    tlv(TAG.INTEGER, serial),
    sigAlg,
    dn,
    sequence(tlv(0x17, Buffer.from('250101000000Z')), tlv(0x17, Buffer.from('450101000000Z'))),
    dn,
    spki,
    tlv(0xa3, sequence(ski)),
  );
  const signature = sign(kind === 'rsa' ? 'sha256' : kind === 'p256' ? 'sha256' : 'sha384', tbs, pair.privateKey);
  const certDer = sequence(tbs, sigAlg, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const b64 = certDer.toString('base64').replace(/.{64}/g, '$&\n');
  return {
    key: pair.privateKey,
    certDer,
    certPem: `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`.replace('\n\n', '\n'),
    keyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    name,
    serial,
  };
}

/** key.pem (mode 0600 unless told), cert.pem and cert.der in a fresh temp dir. */
export function writeKey(k: TestKey, mode = 0o600): { dir: string; key: string; certPem: string; certDer: string } {
  const dir = tempDir('fdl-key-');
  const key = path.join(dir, 'key.pem');
  writeFileSync(key, k.keyPem, { mode });
  chmodSync(key, mode);
  const certPem = path.join(dir, 'cert.pem');
  const certDer = path.join(dir, 'cert.der');
  writeFileSync(certPem, k.certPem);
  writeFileSync(certDer, k.certDer);
  return { dir, key, certPem, certDer };
}

/** A program on this machine, for optional cross-checks (openssl, modinfo, xz, zstd). */
export function hostProgram(name: string): string | undefined {
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    const candidate = path.join(dir, name);
    if (spawnSync(candidate, ['--version'], { stdio: 'ignore' }).error === undefined) return candidate;
  }
  return undefined;
}

/** Says, in the test output, why an optional cross-check did not run. */
export function skipNote(what: string, why: string): void {
  process.stderr.write(`[test/sign] SKIPPED ${what}: ${why}\n`);
}

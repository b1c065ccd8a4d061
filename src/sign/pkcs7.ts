import { createSign, createVerify, type KeyObject, sign, verify } from 'node:crypto';
import { type ByteSource, bufferSource } from '../artifact/elf.js';
import { type CertInfo, identifies, type SignerId } from './cert.js';
import { HASHES, type HashName } from './choices.js';
import {
  children,
  content,
  context,
  contextPrimitive,
  DerError,
  expectTag,
  nullValue,
  octetString,
  oid,
  oidText,
  readRoot,
  sequence,
  setOf,
  smallInteger,
  TAG,
  tlv,
  whole,
} from './der.js';

/**
 * The kernel's appended module signature (Documentation/admin-guide/module-signing.rst, scripts/sign-file.c,
 * kernel/module/signing.c): `<module><PKCS#7 DER><struct module_signature><"~Module signature appended~\n">`.
 * struct module_signature is 12 bytes: algo, hash, id_type, signer_len, key_id_len, 3 pad bytes (all 0 except
 * id_type = PKEY_ID_PKCS7 = 2), then the PKCS#7 length as a big-endian u32. The kernel checks only this last
 * signature and only the bytes before it, so a module carries exactly one.
 */
export const MODULE_SIG_MARKER = Buffer.from('~Module signature appended~\n', 'latin1');
const SIG_STRUCT_SIZE = 12;
const PKEY_ID_PKCS7 = 2;

export { HASHES, type HashName } from './choices.js';

const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  rsaEncryption: '1.2.840.113549.1.1.1',
} as const;
const HASH_OID: Record<HashName, string> = {
  sha224: '2.16.840.1.101.3.4.2.4',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
};
const ECDSA_OID: Record<HashName, string> = {
  sha224: '1.2.840.10045.4.3.1',
  sha256: '1.2.840.10045.4.3.2',
  sha384: '1.2.840.10045.4.3.3',
  sha512: '1.2.840.10045.4.3.4',
};

/** What a module's signature trailer says; `signer` etc. are absent when the PKCS#7 could not be read. */
export interface SignatureTrailer {
  /** Bytes before the signature: what was signed, and what a new signature must cover. */
  readonly unsignedLength: number;
  readonly pkcs7: Buffer;
  readonly signer: SignerId | undefined;
  readonly hash: HashName | undefined;
  readonly signature: Buffer | undefined;
  /** Why the signature could not be read (an old non-PKCS#7 format, a damaged trailer). */
  readonly problem: string | undefined;
}

/** A module split at its signature, in memory (tests, small inputs). */
export interface AppendedSignature extends SignatureTrailer {
  /** The module without its signature. */
  readonly unsigned: Buffer;
}

/** Far above any real PKCS#7 module signature (about 0.5–2 KiB); a larger length field is a damaged trailer. */
const MAX_PKCS7_BYTES = 1024 * 1024;

/** undefined when the module carries no signature trailer at all. */
export function splitSignature(module: Buffer): AppendedSignature | undefined {
  const trailer = readTrailer(bufferSource(module));
  return trailer === undefined ? undefined : { ...trailer, unsigned: module.subarray(0, trailer.unsignedLength) };
}

/**
 * The trailer read at its positions from the end of the module (a file or a Buffer): the marker, struct
 * module_signature and the PKCS#7 blob — never the module itself (issue #17).
 */
export function readTrailer(src: ByteSource): SignatureTrailer | undefined {
  const tail = src.size - MODULE_SIG_MARKER.length;
  if (tail < SIG_STRUCT_SIZE) return undefined;
  const end = src.read(tail - SIG_STRUCT_SIZE, SIG_STRUCT_SIZE + MODULE_SIG_MARKER.length);
  if (!end.subarray(SIG_STRUCT_SIZE).equals(MODULE_SIG_MARKER)) return undefined;
  const info = end.subarray(0, SIG_STRUCT_SIZE);
  const sigLength = info.readUInt32BE(8);
  const sigStart = tail - SIG_STRUCT_SIZE - sigLength;
  const broken = (problem: string, unsignedLength = tail - SIG_STRUCT_SIZE): SignatureTrailer => ({
    unsignedLength,
    pkcs7: Buffer.alloc(0),
    signer: undefined,
    hash: undefined,
    signature: undefined,
    problem,
  });
  if (sigStart < 0) return broken('the signature length runs past the start of the file');
  if (info[2] !== PKEY_ID_PKCS7) return broken(`an old-style signature (id_type ${info[2]}), not PKCS#7`, sigStart);
  if (sigLength > MAX_PKCS7_BYTES) return broken(`an implausibly large signature (${sigLength} bytes)`, sigStart);
  const pkcs7 = Buffer.from(src.read(sigStart, sigLength));
  try {
    const parsed = parseSignedData(pkcs7);
    return { unsignedLength: sigStart, pkcs7, ...parsed, problem: undefined };
  } catch (error) {
    if (!(error instanceof DerError)) throw error;
    return { ...broken(`an unreadable PKCS#7 signature (${error.message})`, sigStart), pkcs7 };
  }
}

/** Appends the PKCS#7 blob, struct module_signature and the marker (what sign-file does). */
export function appendSignature(unsigned: Buffer, pkcs7: Buffer): Buffer {
  return Buffer.concat([unsigned, signatureTrailer(pkcs7)]);
}

/** What goes after the unsigned module: the PKCS#7 blob, struct module_signature and the marker. */
export function signatureTrailer(pkcs7: Buffer): Buffer {
  const info = Buffer.alloc(SIG_STRUCT_SIZE);
  info[2] = PKEY_ID_PKCS7;
  info.writeUInt32BE(pkcs7.length, 8);
  return Buffer.concat([pkcs7, info, MODULE_SIG_MARKER]);
}

/**
 * The signature sign-file makes (CMS_sign with CMS_NOCERTS | CMS_BINARY | CMS_DETACHED and CMS_NOATTR, issuer and
 * serial as signer identifier): ContentInfo{signedData, SignedData{v1, {hash}, {data} without content, no
 * certificates, one SignerInfo{v1, issuerAndSerialNumber, hash, rsaEncryption+NULL | ecdsa-with-<hash>, sig}}}.
 * Without signed attributes the signature covers the module bytes directly. For RSA (PKCS#1 v1.5, deterministic)
 * the output is byte-identical to sign-file's and to `openssl cms -sign -binary -noattr -nocerts`.
 */
export function buildSignedData(unsigned: Buffer, key: KeyObject, cert: CertInfo, hash: HashName): Buffer {
  checkKeyType(key);
  return signedDataFor(sign(hash, unsigned, key), key, cert, hash);
}

/** The module's bytes are hashed as they stream by (issue #17); the signature is made when the stream ends. */
export function streamingSigner(key: KeyObject, cert: CertInfo, hash: HashName): Signing {
  checkKeyType(key);
  const signer = createSign(hash);
  return {
    update: (chunk) => {
      signer.update(chunk);
    },
    finish: () => signedDataFor(signer.sign(key), key, cert, hash),
  };
}

export interface Signing {
  update(chunk: Uint8Array): void;
  /** The PKCS#7 DER for everything passed to update(). */
  finish(): Buffer;
}

function checkKeyType(key: KeyObject): void {
  const type = key.asymmetricKeyType;
  if (type !== 'rsa' && type !== 'ec') throw new Error(`cannot sign with a ${type} key`);
}

function signedDataFor(signature: Buffer, key: KeyObject, cert: CertInfo, hash: HashName): Buffer {
  const type = key.asymmetricKeyType;
  const hashAlgorithm = sequence(oid(HASH_OID[hash]));
  const signatureAlgorithm =
    type === 'rsa' ? sequence(oid(OID.rsaEncryption), nullValue()) : sequence(oid(ECDSA_OID[hash]));
  const signerInfo = sequence(
    smallInteger(1),
    sequence(cert.issuer, cert.serial),
    hashAlgorithm,
    signatureAlgorithm,
    octetString(signature),
  );
  const signedData = sequence(smallInteger(1), setOf(hashAlgorithm), sequence(oid(OID.data)), setOf(signerInfo));
  return sequence(oid(OID.signedData), tlv(context(0), signedData));
}

/** The first SignerInfo's identifier, digest and signature (the kernel, too, uses the one signer sign-file writes). */
export function parseSignedData(pkcs7: Buffer): {
  signer: SignerId;
  hash: HashName | undefined;
  signature: Buffer;
} {
  const d = pkcs7;
  const info = children(d, expectTag(readRoot(d), TAG.SEQUENCE, 'ContentInfo'));
  const type = expectTag(info[0], TAG.OID, 'contentType');
  if (oidText(content(d, type)) !== OID.signedData) throw new DerError('not a SignedData');
  const explicit = expectTag(info[1], context(0), 'content');
  const signedData = children(d, expectTag(children(d, explicit)[0], TAG.SEQUENCE, 'SignedData'));
  // certificates [0] and crls [1] may sit between encapContentInfo and signerInfos: the last element is the set.
  const signerInfos = expectTag(signedData.at(-1), TAG.SET, 'signerInfos');
  const first = expectTag(children(d, signerInfos)[0], TAG.SEQUENCE, 'SignerInfo');
  const [, sid, digest, ...rest] = children(d, first);
  if (sid === undefined) throw new DerError('SignerInfo without an identifier');
  let signer: SignerId;
  if (sid.tag === TAG.SEQUENCE) {
    const [issuer, serial] = children(d, sid);
    signer = {
      kind: 'issuerSerial',
      issuer: Buffer.from(whole(d, expectTag(issuer, TAG.SEQUENCE, 'issuer'))),
      serial: Buffer.from(whole(d, expectTag(serial, TAG.INTEGER, 'serialNumber'))),
    };
  } else if (sid.tag === contextPrimitive(0)) {
    signer = { kind: 'keyId', keyId: Buffer.from(content(d, sid)) };
  } else {
    throw new DerError('unknown signer identifier');
  }
  const digestOid = oidText(
    content(d, expectTag(children(d, expectTag(digest, TAG.SEQUENCE, 'hash'))[0], TAG.OID, 'hash')),
  );
  const hash = HASHES.find((h) => HASH_OID[h] === digestOid);
  // [0] signedAttrs would precede signatureAlgorithm; the signature is the OCTET STRING after it.
  const signature = rest.find((t) => t.tag === TAG.OCTET_STRING);
  if (signature === undefined) throw new DerError('SignerInfo without a signature');
  return { signer, hash, signature: Buffer.from(content(d, signature)) };
}

/**
 * "Already carries a signature by that certificate": the signer identifier names it AND the signature checks out
 * against its public key over the unsigned bytes (so a module changed after signing is signed again).
 */
export function signedBy(sig: AppendedSignature, cert: CertInfo): boolean {
  if (!namesCert(sig, cert)) return false;
  try {
    return verify(sig.hash as HashName, sig.unsigned, cert.x509.publicKey, sig.signature as Buffer);
  } catch {
    return false;
  }
}

/** Whether the trailer claims to be by `cert`, readable enough to be checked. */
export function namesCert(sig: SignatureTrailer, cert: CertInfo): boolean {
  if (sig.signer === undefined || sig.hash === undefined || sig.signature === undefined) return false;
  return identifies(sig.signer, cert);
}

/**
 * signedBy() for a module on disk: the unsigned bytes are streamed through the verifier (issue #17). `onChunk` sees
 * the same bytes, so a caller can hash them in this one pass.
 */
export async function signedByStream(
  sig: SignatureTrailer,
  cert: CertInfo,
  chunks: AsyncIterable<Uint8Array>,
): Promise<boolean> {
  if (!namesCert(sig, cert)) return false;
  const verifier = createVerify(sig.hash as HashName);
  for await (const chunk of chunks) verifier.update(chunk);
  try {
    return verifier.verify(cert.x509.publicKey, sig.signature as Buffer);
  } catch {
    return false;
  }
}

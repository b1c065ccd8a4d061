import { X509Certificate } from 'node:crypto';
import { children, content, DerError, expectTag, oidText, readRoot, TAG, type Tlv, whole } from './der.js';

/** What identifies a certificate inside a PKCS#7 signature (RFC 5652 §5.3 SignerIdentifier). */
export type SignerId =
  | { readonly kind: 'issuerSerial'; readonly issuer: Buffer; readonly serial: Buffer }
  | { readonly kind: 'keyId'; readonly keyId: Buffer };

export interface CertInfo {
  readonly x509: X509Certificate;
  /** DER of the whole certificate. */
  readonly der: Buffer;
  /** DER of the issuer Name, exactly as the certificate carries it (a signature copies these bytes). */
  readonly issuer: Buffer;
  /** DER of the serialNumber INTEGER, tag and length included. */
  readonly serial: Buffer;
  readonly keyId: Buffer | undefined;
  /** The subject's CN, or the whole subject: what `modinfo` calls the signer. */
  readonly name: string;
}

const OID_SUBJECT_KEY_ID = '2.5.29.14';
const OID_COMMON_NAME = '2.5.4.3';

/**
 * Parses a certificate given as PEM or DER (Node's X509Certificate takes both). Throws DerError / Node's error for
 * anything that is not one; callers turn that into one line naming the file.
 */
export function parseCert(bytes: Buffer): CertInfo {
  const x509 = new X509Certificate(bytes);
  const der = x509.raw;
  const cert = expectTag(readRoot(der), TAG.SEQUENCE, 'Certificate');
  const tbs = expectTag(children(der, cert)[0], TAG.SEQUENCE, 'TBSCertificate');
  const fields = children(der, tbs);
  // version is an optional [0] EXPLICIT in front; v1 certificates start with the serial.
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0;
  const serial = expectTag(fields[offset], TAG.INTEGER, 'serialNumber');
  const issuer = expectTag(fields[offset + 2], TAG.SEQUENCE, 'issuer');
  const subject = expectTag(fields[offset + 4], TAG.SEQUENCE, 'subject');
  const extensions = fields.find((f) => f.tag === 0xa3);
  return {
    x509,
    der,
    issuer: whole(der, issuer),
    serial: whole(der, serial),
    keyId: extensions === undefined ? undefined : subjectKeyId(der, extensions),
    name: commonName(der, subject) ?? x509.subject.replaceAll('\n', ', '),
  };
}

function subjectKeyId(der: Buffer, wrapper: Tlv): Buffer | undefined {
  const list = expectTag(children(der, wrapper)[0], TAG.SEQUENCE, 'Extensions');
  for (const ext of children(der, list)) {
    const parts = children(der, ext);
    const id = expectTag(parts[0], TAG.OID, 'extnID');
    if (oidText(content(der, id)) !== OID_SUBJECT_KEY_ID) continue;
    const value = expectTag(parts.at(-1), TAG.OCTET_STRING, 'extnValue');
    const inner = content(der, value);
    return content(inner, expectTag(readRoot(inner), TAG.OCTET_STRING, 'KeyIdentifier'));
  }
  return undefined;
}

/** The first commonName of a Name (SEQUENCE OF SET OF AttributeTypeAndValue), as modinfo shows it. */
export function commonName(der: Buffer, name: Tlv): string | undefined {
  for (const rdn of children(der, name)) {
    for (const atv of children(der, rdn)) {
      const [type, value] = children(der, atv);
      if (type?.tag === TAG.OID && value !== undefined && oidText(content(der, type)) === OID_COMMON_NAME) {
        return content(der, value).toString('utf8');
      }
    }
  }
  return undefined;
}

/** The CN of an issuer Name given as its own DER (from a signature), for messages. */
export function nameOf(issuer: Buffer): string {
  try {
    return commonName(issuer, readRoot(issuer)) ?? 'a certificate without a common name';
  } catch (error) {
    if (error instanceof DerError) return 'an unreadable issuer name';
    throw error;
  }
}

/** Does this signer identifier name this certificate? */
export function identifies(id: SignerId, cert: CertInfo): boolean {
  if (id.kind === 'keyId') return cert.keyId !== undefined && id.keyId.equals(cert.keyId);
  return id.issuer.equals(cert.issuer) && id.serial.equals(cert.serial);
}

/** The serial as modinfo prints sig_key (`38:E4:26:…`), for messages. */
export function serialText(serialTlv: Buffer): string {
  return hexColons(content(serialTlv, readRoot(serialTlv)));
}

export function hexColons(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join(':');
}

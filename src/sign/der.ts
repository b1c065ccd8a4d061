/**
 * Just enough DER (ITU-T X.690) to write a PKCS#7 SignedData and to read back a module's signature and an X.509
 * certificate's issuer, serial and subjectKeyIdentifier (issue #10). Single-byte tags and definite lengths only:
 * that is all the kernel's sign-file, kmodsign and `openssl cms` emit, and anything else is reported as unreadable
 * (the module is then re-signed), never guessed at.
 */

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** `[n]` constructed, context-specific (EXPLICIT tags, and IMPLICIT ones over constructed types). */
export const context = (n: number): number => 0xa0 | n;
/** `[n]` primitive, context-specific (an IMPLICIT tag over a primitive type, e.g. CMS's subjectKeyIdentifier). */
export const contextPrimitive = (n: number): number => 0x80 | n;

export class DerError extends Error {}

/** One element: where its header starts, where its content starts and ends. */
export interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly contentStart: number;
  readonly end: number;
}

/** The element at `at`, which must end at or before `limit`. */
export function readTlv(buf: Uint8Array, at: number, limit = buf.length): Tlv {
  if (at + 2 > limit) throw new DerError('truncated element');
  const tag = buf[at] as number;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tags are not supported');
  const first = buf[at + 1] as number;
  let length: number;
  let contentStart = at + 2;
  if (first < 0x80) {
    length = first;
  } else {
    const count = first & 0x7f;
    // 0x80 is BER's indefinite length; more than 4 length bytes cannot describe anything a module carries.
    if (count === 0 || count > 4) throw new DerError('unsupported length encoding');
    if (contentStart + count > limit) throw new DerError('truncated length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (buf[contentStart + i] as number);
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > limit) throw new DerError('element runs past its container');
  return { tag, start: at, contentStart, end };
}

/** The elements inside a constructed element, in order. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const items: Tlv[] = [];
  for (let at = parent.contentStart; at < parent.end; ) {
    const item = readTlv(buf, at, parent.end);
    items.push(item);
    at = item.end;
  }
  return items;
}

/** The single top-level element of `buf` (trailing bytes are an error: a signature is exactly one element). */
export function readRoot(buf: Uint8Array): Tlv {
  const root = readTlv(buf, 0);
  if (root.end !== buf.length) throw new DerError('trailing bytes after the element');
  return root;
}

export function expectTag(tlv: Tlv | undefined, tag: number, what: string): Tlv {
  if (tlv === undefined || tlv.tag !== tag) throw new DerError(`expected ${what}`);
  return tlv;
}

export const whole = (buf: Buffer, tlv: Tlv): Buffer => buf.subarray(tlv.start, tlv.end);
export const content = (buf: Buffer, tlv: Tlv): Buffer => buf.subarray(tlv.contentStart, tlv.end);

/** Dotted OID text of an OBJECT IDENTIFIER's content bytes. */
export function oidText(bytes: Uint8Array): string {
  const arcs: number[] = [];
  let value = 0;
  for (const byte of bytes) {
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      arcs.push(value);
      value = 0;
    }
  }
  const first = arcs.shift() ?? 0;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...arcs].join('.');
}

// ---- writing ----

function lengthBytes(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), lengthBytes(body.length), body]);
}

export const sequence = (...parts: Buffer[]): Buffer => tlv(TAG.SEQUENCE, ...parts);
/** A SET with one member: DER's sort order of SET OF members does not arise. */
export const setOf = (member: Buffer): Buffer => tlv(TAG.SET, member);
export const nullValue = (): Buffer => tlv(TAG.NULL);
export const octetString = (bytes: Buffer): Buffer => tlv(TAG.OCTET_STRING, bytes);
export const smallInteger = (n: number): Buffer => tlv(TAG.INTEGER, Buffer.from([n]));

export function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const bytes: number[] = [];
  for (const arc of [a * 40 + b, ...rest]) {
    const chunk: number[] = [arc & 0x7f];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) chunk.unshift(0x80 | (n & 0x7f));
    bytes.push(...chunk);
  }
  return tlv(TAG.OID, Buffer.from(bytes));
}

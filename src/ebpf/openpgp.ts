import { createHash, createPublicKey, verify } from 'node:crypto';

/**
 * The little of OpenPGP (RFC 4880) needed to check kernel.org's clearsigned `sha256sums.asc` (issue #13): v4 RSA
 * public keys and one v4 RSA signature over canonical text. Done in Node's crypto rather than with `gpgv`: the
 * loader runs in images and on hosts (COS, minikube) that have no gpgv, and a verifier found on PATH would be one
 * more program whose answer we trust blindly. Anything outside this subset is refused, never guessed at.
 */
export interface PublicKey {
  /** v4 fingerprint, 40 upper-case hex digits. */
  readonly fingerprint: string;
  readonly n: Buffer;
  readonly e: Buffer;
}

interface Packet {
  readonly tag: number;
  readonly body: Buffer;
}

const HASHES: Readonly<Record<number, string>> = { 8: 'sha256', 9: 'sha384', 10: 'sha512', 11: 'sha224' };

/** The bytes inside `-----BEGIN <kind>-----` armor (headers and the CRC line skipped). */
export function dearmor(text: string, kind: string): Buffer | undefined {
  const begin = text.indexOf(`-----BEGIN ${kind}-----`);
  const end = text.indexOf(`-----END ${kind}-----`, begin);
  if (begin < 0 || end < 0) return undefined;
  const lines = text.slice(begin, end).split(/\r?\n/).slice(1);
  const blank = lines.findIndex((l) => l.trim() === '');
  const data = lines.slice(blank + 1).filter((l) => !l.startsWith('='));
  return Buffer.from(data.join(''), 'base64');
}

function packets(data: Buffer): Packet[] {
  const out: Packet[] = [];
  let at = 0;
  while (at < data.length) {
    const first = data[at] as number;
    if ((first & 0x80) === 0) throw new Error('not an OpenPGP packet');
    let tag: number;
    let length: number;
    if (first & 0x40) {
      tag = first & 0x3f;
      const l0 = data[at + 1] as number;
      if (l0 < 192) [length, at] = [l0, at + 2];
      else if (l0 < 224) [length, at] = [((l0 - 192) << 8) + (data[at + 2] as number) + 192, at + 3];
      else if (l0 === 255) [length, at] = [data.readUInt32BE(at + 2), at + 6];
      else throw new Error('partial-length packets are not supported');
    } else {
      tag = (first >> 2) & 0x0f;
      const type = first & 3;
      if (type === 3) throw new Error('indeterminate-length packets are not supported');
      const size = 1 << type;
      length = data.readUIntBE(at + 1, size);
      at += 1 + size;
    }
    if (at + length > data.length) throw new Error('truncated OpenPGP packet');
    out.push({ tag, body: data.subarray(at, at + length) });
    at += length;
  }
  return out;
}

/** An MPI: 2-byte bit count, then the big-endian number. Returns the number and the offset after it. */
function mpi(body: Buffer, at: number): [Buffer, number] {
  const bytes = (body.readUInt16BE(at) + 7) >> 3;
  if (at + 2 + bytes > body.length) throw new Error('truncated MPI');
  return [body.subarray(at + 2, at + 2 + bytes), at + 2 + bytes];
}

/** Every v4 RSA primary key and subkey in an armored or binary key file; other algorithms are skipped. */
export function readPublicKeys(file: Buffer): PublicKey[] {
  const text = file.toString('latin1');
  const data = text.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----') ? dearmor(text, 'PGP PUBLIC KEY BLOCK') : file;
  if (data === undefined) return [];
  const keys: PublicKey[] = [];
  for (const { tag, body } of packets(data)) {
    if ((tag !== 6 && tag !== 14) || body[0] !== 4) continue;
    const algo = body[5];
    if (algo !== 1 && algo !== 3) continue;
    const [n, next] = mpi(body, 6);
    const [e] = mpi(body, next);
    const header = Buffer.from([0x99, body.length >> 8, body.length & 0xff]);
    const fingerprint = createHash('sha1').update(header).update(body).digest('hex').toUpperCase();
    keys.push({ fingerprint, n, e });
  }
  return keys;
}

/** The signed text of a clearsigned message, or why it does not verify against `keys`. */
export type Clearsigned =
  | { readonly ok: true; readonly text: string; readonly fingerprint: string }
  | { readonly ok: false; readonly reason: string };

export function verifyClearsigned(message: string, keys: readonly PublicKey[]): Clearsigned {
  const fail = (reason: string): Clearsigned => ({ ok: false, reason });
  const lines = message.split('\n').map((l) => l.replace(/\r$/, ''));
  const start = lines.indexOf('-----BEGIN PGP SIGNED MESSAGE-----');
  const sigAt = lines.indexOf('-----BEGIN PGP SIGNATURE-----', start);
  if (start < 0 || sigAt < 0) return fail('it is not a clearsigned OpenPGP message');
  const blank = lines.indexOf('', start);
  if (blank < 0 || blank > sigAt) return fail('its armor headers do not end');
  // RFC 4880 §7.1: dash-unescape, drop trailing blanks, join with CR LF; the last line break is not signed.
  const signed = lines.slice(blank + 1, sigAt).map((l) => (l.startsWith('- ') ? l.slice(2) : l));
  const canonical = signed.map((l) => l.replace(/[ \t]+$/, '')).join('\r\n');
  let sig: Packet[];
  try {
    sig = packets(dearmor(lines.slice(sigAt).join('\n'), 'PGP SIGNATURE') ?? Buffer.alloc(0));
  } catch (error) {
    return fail(`its signature cannot be parsed (${(error as Error).message})`);
  }
  if (sig.length !== 1 || sig[0]?.tag !== 2) return fail('it does not carry exactly one signature');
  try {
    const result = checkSignature(sig[0].body, Buffer.from(canonical, 'utf8'), keys);
    return typeof result === 'string' ? fail(result) : { ok: true, text: signed.join('\n'), fingerprint: result.fp };
  } catch (error) {
    return fail(`its signature cannot be parsed (${(error as Error).message})`);
  }
}

function checkSignature(body: Buffer, text: Buffer, keys: readonly PublicKey[]): string | { fp: string } {
  const [version, type, algo, hashAlgo] = [body[0], body[1], body[2], body[3] as number];
  if (version !== 4) return `its signature is version ${version}, not 4`;
  if (type !== 0x01) return `its signature is of type ${type}, not a canonical-text signature`;
  if (algo !== 1 && algo !== 3) return `its signature uses public-key algorithm ${algo}, not RSA`;
  const hash = HASHES[hashAlgo];
  if (hash === undefined) return `its signature uses hash algorithm ${hashAlgo}, which is not accepted`;
  const hashedLen = body.readUInt16BE(4);
  const hashed = body.subarray(6, 6 + hashedLen);
  const unhashedLen = body.readUInt16BE(6 + hashedLen);
  const unhashed = body.subarray(8 + hashedLen, 8 + hashedLen + unhashedLen);
  const [signature] = mpi(body, 8 + hashedLen + unhashedLen + 2);
  const issuers = [...issuerIds(hashed), ...issuerIds(unhashed)];
  const key = keys.find((k) => issuers.some((id) => k.fingerprint.endsWith(id)));
  if (key === undefined) return `it is signed by key ${issuers[0] ?? '(unnamed)'}, which is not a trusted key`;
  const trailer = Buffer.alloc(6);
  trailer.writeUInt16BE(0x04ff, 0);
  trailer.writeUInt32BE(6 + hashedLen, 2);
  const data = Buffer.concat([text, body.subarray(0, 6 + hashedLen), trailer]);
  const jwk = { kty: 'RSA', n: key.n.toString('base64url'), e: key.e.toString('base64url') };
  const publicKey = createPublicKey({ key: jwk, format: 'jwk' });
  const padded = Buffer.concat([Buffer.alloc(Math.max(0, key.n.length - signature.length)), signature]);
  if (!verify(hash, data, publicKey, padded)) return `its signature by key ${key.fingerprint} does not verify`;
  return { fp: key.fingerprint };
}

/** Issuer (16, a key ID) and issuer fingerprint (33) subpackets, as upper-case hex. */
function issuerIds(area: Buffer): string[] {
  const ids: string[] = [];
  for (let at = 0; at < area.length; ) {
    const l0 = area[at] as number;
    let length: number;
    if (l0 < 192) [length, at] = [l0, at + 1];
    else if (l0 < 255) [length, at] = [((l0 - 192) << 8) + (area[at + 1] as number) + 192, at + 2];
    else [length, at] = [area.readUInt32BE(at + 1), at + 5];
    const type = (area[at] as number) & 0x7f;
    const value = area.subarray(at + 1, at + length);
    if (type === 16 && value.length === 8) ids.push(value.toString('hex').toUpperCase());
    if (type === 33 && value.length === 21 && value[0] === 4) ids.push(value.subarray(1).toString('hex').toUpperCase());
    at += length;
  }
  return ids;
}

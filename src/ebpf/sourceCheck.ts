import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { sourcesMsg } from '../cli/messages.js';
import { redactText, redactUrl } from '../cli/redact.js';
import type { Context } from '../context.js';
import { UserError } from '../errors.js';
import { download } from '../fetch/download.js';
import { downloadSettingsFrom } from '../fetch/settings.js';
import { KERNEL_ORG_AUTOSIGNER_FINGERPRINT, KERNEL_ORG_KEYS } from './kernelOrgKeys.js';
import { type PublicKey, readPublicKeys, verifyClearsigned } from './openpgp.js';

/**
 * Kernel sources are unpacked and their Makefile run as root (`make olddefconfig`), so they are checked before use
 * (issue #13): the tarball's SHA-256 must be the one in a checksum list we can trust. Trusted lists, in order:
 * the directory's `sha256sums.asc` signed by a trusted key (kernel.org's autosigner, or the keys in
 * FALCO_DRIVER_LOADER_KERNEL_KEYS); else, only for a mirror named in FALCO_DRIVER_LOADER_KERNEL_MIRROR and only over
 * https or file (so the list is as authentic as the mirror itself), its unsigned `sha256sums.txt`. Nothing else.
 */
export const INSECURE_SOURCES = 'FALCO_DRIVER_LOADER_INSECURE_KERNEL_SOURCES';
export const KEYS_VARIABLE = 'FALCO_DRIVER_LOADER_KERNEL_KEYS';

/** Checks a downloaded tarball: undefined when it matches, else why not. */
export type TarballCheck = (file: string) => Promise<string | undefined>;

const noCheck: TarballCheck = async () => undefined;

export function insecureSources(ctx: Context): boolean {
  const value = ctx.env[INSECURE_SOURCES];
  return value !== undefined && value !== '';
}

/** For vanilla sources (minikube, BPF_USE_LOCAL_KERNEL_SOURCES): how `<dirUrl>/<fileName>` will be checked. */
export async function vanillaCheck(
  ctx: Context,
  dirUrl: string,
  fileName: string,
  custom: boolean,
  workDir: string,
  signal?: AbortSignal,
): Promise<TarballCheck> {
  if (insecureSources(ctx)) {
    ctx.io.err(`${sourcesMsg.unverified(fileName, INSECURE_SOURCES)}\n`);
    return noCheck;
  }
  const keys = trustedKeys(ctx.env);
  const signedUrl = `${dirUrl}/sha256sums.asc`;
  const signed = await fetchText(ctx, signedUrl, path.join(workDir, 'sha256sums.asc'), signal);
  let why: string;
  if (signed.ok) {
    const verdict = verifyClearsigned(signed.text, keys);
    if (!verdict.ok)
      throw new UserError(sourcesMsg.badSignature(redactUrl(signedUrl), verdict.reason, INSECURE_SOURCES));
    ctx.io.out(`${sourcesMsg.signedBy(redactUrl(signedUrl), verdict.fingerprint)}\n`);
    return digestCheck(fileName, listed(verdict.text, fileName, redactUrl(signedUrl)));
  }
  why = `${signedUrl}: ${signed.reason}`;
  const scheme = new URL(dirUrl).protocol;
  if (custom && (scheme === 'https:' || scheme === 'file:')) {
    const listUrl = `${dirUrl}/sha256sums.txt`;
    const list = await fetchText(ctx, listUrl, path.join(workDir, 'sha256sums.txt'), signal);
    if (list.ok) {
      ctx.io.out(`${sourcesMsg.mirrorList(redactUrl(listUrl))}\n`);
      return digestCheck(fileName, listed(list.text, fileName, redactUrl(listUrl)));
    }
    why += `; ${listUrl}: ${list.reason}`;
  }
  throw new UserError(sourcesMsg.cannotVerify(fileName, redactText(why), INSECURE_SOURCES));
}

/**
 * COS `kernel-headers.tgz`: checked against `kernel-headers.tgz.sha256` where the bucket serves one; without it the
 * file is accepted only over https (Google's TLS-authenticated bucket) or from a local file:// copy.
 */
export async function cosCheck(
  ctx: Context,
  url: string,
  workDir: string,
  signal?: AbortSignal,
): Promise<TarballCheck> {
  if (insecureSources(ctx)) {
    ctx.io.err(`${sourcesMsg.unverified('kernel-headers.tgz', INSECURE_SOURCES)}\n`);
    return noCheck;
  }
  const sumUrl = `${url}.sha256`;
  const sum = await fetchText(ctx, sumUrl, path.join(workDir, 'kernel-headers.tgz.sha256'), signal);
  if (sum.ok) {
    const digest = sum.text.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
    if (!/^[0-9a-f]{64}$/.test(digest))
      throw new UserError(sourcesMsg.badList(redactUrl(sumUrl), 'kernel-headers.tgz'));
    return digestCheck('kernel-headers.tgz', digest);
  }
  const scheme = new URL(url).protocol;
  if (scheme === 'https:' || scheme === 'file:') return noCheck;
  throw new UserError(
    sourcesMsg.cannotVerify('kernel-headers.tgz', redactText(`${sumUrl}: ${sum.reason}`), INSECURE_SOURCES),
  );
}

/** The built-in kernel.org key (its fingerprint re-checked), or the operator's key file instead. */
export function trustedKeys(env: NodeJS.ProcessEnv): PublicKey[] {
  const file = env[KEYS_VARIABLE];
  if (file !== undefined && file !== '') {
    let keys: PublicKey[];
    try {
      keys = readPublicKeys(readFileSync(file));
    } catch (error) {
      throw new UserError(sourcesMsg.badKeys(KEYS_VARIABLE, file, (error as Error).message));
    }
    if (keys.length === 0) throw new UserError(sourcesMsg.badKeys(KEYS_VARIABLE, file, 'it holds no RSA public key'));
    return keys;
  }
  const keys = readPublicKeys(Buffer.from(KERNEL_ORG_KEYS));
  if (keys.length !== 1 || keys[0]?.fingerprint !== KERNEL_ORG_AUTOSIGNER_FINGERPRINT) {
    throw new Error('the built-in kernel.org key does not have its pinned fingerprint');
  }
  return keys;
}

/** The SHA-256 a `sha256sum`-style list gives `fileName`, or a UserError. */
export function listed(text: string, fileName: string, where: string): string {
  for (const line of text.split('\n')) {
    const [digest, name] = line.trim().split(/\s+/);
    if (name?.replace(/^\*/, '') === fileName && digest !== undefined && /^[0-9a-fA-F]{64}$/.test(digest)) {
      return digest.toLowerCase();
    }
  }
  throw new UserError(sourcesMsg.badList(where, fileName));
}

function digestCheck(fileName: string, expected: string): TarballCheck {
  return async (file) => {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
    const actual = hash.digest('hex');
    return actual === expected ? undefined : sourcesMsg.mismatch(fileName, actual, expected);
  };
}

type Fetched = { ok: true; text: string } | { ok: false; reason: string };

async function fetchText(ctx: Context, url: string, destination: string, signal?: AbortSignal): Promise<Fetched> {
  const base = downloadSettingsFrom(ctx.settings, ctx.env, (line) => ctx.io.err(`${line}\n`));
  const result = await download(
    { url, destination, log: () => undefined, ...(signal ? { signal } : {}) },
    { ...base, maxBytes: Math.min(base.maxBytes, 16 * 1024 * 1024) },
    { env: ctx.env },
  );
  if (!result.ok) return { ok: false, reason: result.reason };
  return { ok: true, text: readFileSync(destination, 'utf8') };
}

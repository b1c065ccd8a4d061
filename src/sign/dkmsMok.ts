import { existsSync, readFileSync } from 'node:fs';
import { run, which } from '../system/exec.js';
import { sysPath } from '../system/sysroot.js';
import { type CertInfo, identifies, parseCert } from './cert.js';

/** DKMS signs what it builds from this version on (driver-artifacts.md (i)). */
const SIGNS_SINCE: readonly [number, number, number] = [3, 0, 4];
export const DKMS_MOK_KEY = '/var/lib/dkms/mok.key';
export const DKMS_MOK_CERT = '/var/lib/dkms/mok.pub';

export interface DkmsMok {
  /** undefined when dkms is not on PATH. */
  readonly version: string | undefined;
  readonly installed: boolean;
  /** dkms is new enough to sign its builds (it creates mok.key/mok.pub on its first build when they are missing). */
  readonly signs: boolean;
  readonly keyPresent: boolean;
  /** /var/lib/dkms/mok.pub, when present and readable as a certificate. */
  readonly cert: CertInfo | undefined;
  /** The configured --sign-cert is DKMS's own certificate: its builds already carry the wanted signature. */
  readonly sameAsSigningCert: boolean;
}

/**
 * `dkms --version` (dkms 3.x prints `dkms-3.0.10`, 2.x `dkms:2.8.7`) and the default MOK pair, read through the
 * sysroot seam. Only the public half is read; mok.key is only checked for existence. A distro may point DKMS at
 * other files (/etc/dkms/framework.conf mok_signing_key, Ubuntu's /var/lib/shim-signed/mok/MOK.priv): what a real
 * build did is read from the built module's own signature, this only informs --dry-run and the diagnosis.
 */
export async function detectDkmsMok(
  sysroot: string,
  env: NodeJS.ProcessEnv,
  signingCert: CertInfo | undefined,
): Promise<DkmsMok> {
  const dkms = which('dkms', env);
  let version: string | undefined;
  if (dkms !== undefined) {
    const result = await run(dkms, ['--version'], { env, timeoutMs: 10_000 });
    version = /(\d+)\.(\d+)\.(\d+)/.exec(`${result.stdout}${result.stderr}`)?.[0];
  }
  let cert: CertInfo | undefined;
  const certFile = sysPath(sysroot, DKMS_MOK_CERT);
  if (existsSync(certFile)) {
    try {
      cert = parseCert(readFileSync(certFile));
    } catch {
      cert = undefined;
    }
  }
  return {
    version,
    installed: dkms !== undefined,
    signs: version !== undefined && atLeast(version, SIGNS_SINCE),
    keyPresent: existsSync(sysPath(sysroot, DKMS_MOK_KEY)),
    cert,
    sameAsSigningCert:
      cert !== undefined &&
      signingCert !== undefined &&
      identifies({ kind: 'issuerSerial', issuer: cert.issuer, serial: cert.serial }, signingCert),
  };
}

export function atLeast(version: string, wanted: readonly [number, number, number]): boolean {
  const parts = version.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const have = parts[i] ?? 0;
    const want = wanted[i] ?? 0;
    if (have !== want) return have > want;
  }
  return true;
}

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * A throwaway CA and three server certificates it signed, made with the openssl CLI at test time:
 * - `good`: for IP 127.0.0.1, valid now;
 * - `wrongHost`: valid now, but for mirror.example only (the "wrong certificate" of issue #8);
 * - `expired`: for 127.0.0.1, valid from 2020-01-01 to 2020-01-02.
 * `openssl x509` of OpenSSL 3.0 (the Debian 12 one) has no -not_before/-not_after and `-days` cannot be negative
 * in a portable way, so every certificate is issued with `openssl ca`, whose -startdate/-enddate exist since 0.9.
 * No faketime needed.
 */
export interface TestCerts {
  /** The CA certificate (PEM): write it to a file for `--cacert`. */
  readonly ca: string;
  readonly good: KeyPair;
  readonly wrongHost: KeyPair;
  readonly expired: KeyPair;
}

export interface KeyPair {
  readonly key: string;
  readonly cert: string;
}

const CA_CONFIG = `[ca]
default_ca = test
[test]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
[any]
commonName = supplied
[ip]
subjectAltName = IP:127.0.0.1
basicConstraints = CA:FALSE
[dns]
subjectAltName = DNS:mirror.example
basicConstraints = CA:FALSE
`;

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

let made: TestCerts | undefined;

/** Made once per test file; the openssl work directory is removed at once, only the PEM texts are kept. */
export function makeCerts(): TestCerts {
  made ??= issueAll();
  return made;
}

function issueAll(): TestCerts {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fdl-certs-'));
  try {
    return issueIn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function issueIn(dir: string): TestCerts {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  writeFileSync(path.join(dir, 'ca.cnf'), CA_CONFIG);
  writeFileSync(path.join(dir, 'index.txt'), '');
  writeFileSync(path.join(dir, 'serial'), '01\n');
  ssl('req', '-x509', ...EC, '-days', '2', '-subj', '/CN=fdl test CA', '-keyout', 'ca.key', '-out', 'ca.pem');
  const sign = (name: string, section: string, dates: string[]): KeyPair => {
    ssl('req', '-new', ...EC, '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    ssl(
      'ca',
      '-batch',
      '-notext',
      '-config',
      'ca.cnf',
      '-extensions',
      section,
      '-cert',
      'ca.pem',
      '-keyfile',
      'ca.key',
      '-in',
      `${name}.csr`,
      '-out',
      `${name}.pem`,
      ...dates,
    );
    return {
      key: readFileSync(path.join(dir, `${name}.key`), 'utf8'),
      cert: readFileSync(path.join(dir, `${name}.pem`), 'utf8'),
    };
  };
  return {
    ca: readFileSync(path.join(dir, 'ca.pem'), 'utf8'),
    good: sign('good', 'ip', ['-days', '2']),
    wrongHost: sign('wrong', 'dns', ['-days', '2']),
    expired: sign('expired', 'ip', ['-startdate', '20200101000000Z', '-enddate', '20200102000000Z']),
  };
}

import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * A throw-away OpenPGP signer made by the real gpg (an independent implementation, so the loader's verifier is
 * checked against what GnuPG produces, not against itself). One RSA key per instance, in a private GNUPGHOME.
 */
export class GpgSigner {
  readonly home: string;
  readonly keyFile: string;
  readonly fingerprint: string;

  constructor(name = 'Test Signer <signer@example.invalid>') {
    this.home = mkdtempSync(path.join(os.tmpdir(), 'fdl-gpg-'));
    chmodSync(this.home, 0o700);
    this.gpg(['--quick-gen-key', name, 'rsa2048', 'sign', 'never']);
    const colons = this.gpg(['--with-colons', '--list-keys']).toString();
    this.fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(colons)?.[1] ?? '';
    this.keyFile = path.join(this.home, 'exported-keys.asc');
    writeFileSync(this.keyFile, this.gpg(['--armor', '--export', this.fingerprint]));
  }

  /** `text` clearsigned with SHA-256, as kernel.org's autosigner does it. */
  clearsign(text: string): string {
    return this.gpg(['--clearsign', '--digest-algo', 'SHA256'], text).toString();
  }

  /** Stops the gpg-agent this key made and removes its home (call in afterAll). */
  dispose(): void {
    try {
      execFileSync('gpgconf', ['--homedir', this.home, '--kill', 'gpg-agent'], { stdio: 'ignore' });
    } catch {
      // no agent left
    }
    rmSync(this.home, { recursive: true, force: true });
  }

  private gpg(args: string[], input?: string): Buffer {
    return execFileSync(
      'gpg',
      ['--homedir', this.home, '--batch', '--quiet', '--pinentry-mode', 'loopback', '--passphrase', '', ...args],
      { input: input ?? '', stdio: ['pipe', 'pipe', 'ignore'] },
    );
  }
}

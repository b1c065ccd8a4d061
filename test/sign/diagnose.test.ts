import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCert } from '../../src/sign/cert.js';
import {
  type AdviceInputs,
  adviceLines,
  type Enforcement,
  readEnforcement,
  refusesUnsigned,
  stateLines,
} from '../../src/sign/diagnose.js';
import { atLeast, type DkmsMok, detectDkmsMok } from '../../src/sign/dkmsMok.js';
import { FakeBin } from '../helpers/fakeBin.js';
import { tempDir, writeTree } from '../helpers/tmp.js';
import { makeKey } from './keys.js';
import { SigningKernel, signingArgs } from './signingKernel.js';

const SB = 'sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e98c7f5c2c20';

function sysroot(files: Record<string, string | Buffer>): string {
  const root = tempDir('fdl-sys-');
  for (const [rel, content] of Object.entries(files)) writeBytes(root, rel, content);
  return root;
}

/** writeTree takes text; the EFI variable and certificates are bytes. */
function writeBytes(root: string, rel: string, content: string | Buffer): void {
  mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  writeFileSync(path.join(root, rel), content);
}

describe('reading the switches through the sysroot seam', () => {
  it.each<[string, Record<string, string | Buffer>, Enforcement]>([
    [
      'a BIOS boot with nothing exposed',
      {},
      { secureBoot: 'off', lockdown: undefined, sigEnforce: undefined, modulesDisabled: false },
    ],
    [
      'Secure Boot on, lockdown integrity, sig_enforce N',
      {
        [SB]: Buffer.from([6, 0, 0, 0, 1]),
        'sys/kernel/security/lockdown': 'none [integrity] confidentiality\n',
        'sys/module/module/parameters/sig_enforce': 'N\n',
      },
      { secureBoot: 'on', lockdown: 'integrity', sigEnforce: false, modulesDisabled: false },
    ],
    [
      'Secure Boot off (data byte 0), lockdown none, sig_enforce Y, modules_disabled',
      {
        [SB]: Buffer.from([6, 0, 0, 0, 0]),
        'sys/kernel/security/lockdown': '[none] integrity confidentiality\n',
        'sys/module/module/parameters/sig_enforce': 'Y\n',
        'proc/sys/kernel/modules_disabled': '1\n',
      },
      { secureBoot: 'off', lockdown: 'none', sigEnforce: true, modulesDisabled: true },
    ],
    [
      'EFI boot but efivarfs not mounted: unknown',
      { 'sys/firmware/efi/runtime': '' },
      { secureBoot: 'unknown', lockdown: undefined, sigEnforce: undefined, modulesDisabled: false },
    ],
    [
      'efivarfs mounted without a SecureBoot variable: off',
      { 'sys/firmware/efi/efivars/Boot0000-8be4df61-93ca-11d2-aa0d-e98c7f5c2c20': 'x' },
      { secureBoot: 'off', lockdown: undefined, sigEnforce: undefined, modulesDisabled: false },
    ],
  ])('%s', (_, files, expected) => {
    expect(readEnforcement(sysroot(files))).toEqual(expected);
  });
});

const off: Enforcement = { secureBoot: 'off', lockdown: 'none', sigEnforce: false, modulesDisabled: false };
const dkmsAbsent: DkmsMok = {
  version: undefined,
  installed: false,
  signs: false,
  keyPresent: false,
  cert: undefined,
  sameAsSigningCert: false,
};
const inputs = (over: Partial<AdviceInputs> = {}): AdviceInputs => ({
  signing: undefined,
  dkms: dkmsAbsent,
  modernProblem: undefined,
  rejected: false,
  ...over,
});

describe('the diagnosis for each combination', () => {
  it.each<[string, Partial<Enforcement>, boolean, string]>([
    ['nothing on', {}, false, '  so unsigned modules load'],
    [
      'Secure Boot alone',
      { secureBoot: 'on' },
      false,
      '  so unsigned modules still load (Secure Boot is on, but neither lockdown nor sig_enforce refuses them)',
    ],
    ['lockdown integrity', { lockdown: 'integrity' }, true, '  so this kernel refuses a module unless'],
    ['lockdown confidentiality', { lockdown: 'confidentiality' }, true, '  so this kernel refuses a module unless'],
    ['sig_enforce', { sigEnforce: true }, true, '  so this kernel refuses a module unless'],
    ['modules_disabled', { modulesDisabled: true }, false, '  so this kernel loads no module at all'],
  ])('%s', (_, over, refuses, verdict) => {
    const e = { ...off, ...over };
    expect(refusesUnsigned(e)).toBe(refuses);
    const [state, said] = stateLines(e);
    expect(state).toBe(
      `* Module signature checks: Secure Boot ${e.secureBoot}, lockdown ${e.lockdown}, module.sig_enforce ${e.sigEnforce ? 'Y' : 'N'}${e.modulesDisabled ? ', modules_disabled 1' : ''}`,
    );
    expect(said?.startsWith(verdict)).toBe(true);
    const advice = adviceLines(e, inputs({ modernProblem: 'kernel lockdown is in confidentiality mode' }));
    if (e.modulesDisabled) {
      expect(advice).toEqual([
        '  - modern_ebpf: needs no module, but cannot work here: kernel lockdown is in confidentiality mode',
      ]);
    } else if (refuses) {
      expect(advice[0]).toBe('  What will work:');
      expect(advice).toHaveLength(4);
    } else {
      expect(advice).toEqual([]);
    }
  });

  it('names the DKMS state and the configured certificate', () => {
    const e = { ...off, sigEnforce: true };
    const mok = parseCert(makeKey('DKMS module signing key').certDer);
    const lines = (dkms: Partial<DkmsMok>, over: Partial<AdviceInputs> = {}) =>
      adviceLines(e, inputs({ dkms: { ...dkmsAbsent, installed: true, ...dkms }, ...over }));
    expect(lines({ version: '2.8.7' })[2]).toBe(
      '  - DKMS with MOK signing: dkms 2.8.7 does not sign its builds (3.0.4 and later do)',
    );
    expect(lines({ version: '3.0.10', signs: true })[2]).toBe(
      '  - DKMS with MOK signing: dkms 3.0.10 signs its builds with /var/lib/dkms/mok.key (it creates the key on its first build); enroll it with mokutil --import /var/lib/dkms/mok.pub and reboot',
    );
    expect(lines({ version: '3.1.0', signs: true, keyPresent: true, cert: mok, sameAsSigningCert: true })[2]).toBe(
      "  - DKMS with MOK signing: dkms 3.1.0 signs its builds with /var/lib/dkms/mok.key ('DKMS module signing key'); enroll it with mokutil --import /var/lib/dkms/mok.pub and reboot; that is the --sign-cert certificate, so its builds are not signed again",
    );
    const signing = { certFile: '/root/mok/falco.der', name: 'Falco MOK' };
    expect(lines({}, { signing })[1]).toBe(
      "  - sign with an enrolled key: modules are signed with 'Falco MOK'; it must be enrolled (mokutil --test-key /root/mok/falco.der; else mokutil --import /root/mok/falco.der and reboot)",
    );
    expect(lines({}, { signing, rejected: true })[1]).toMatch(
      /^ {2}- the module was signed with 'Falco MOK', but the kernel does not trust/,
    );
  });
});

describe('DKMS MOK detection', () => {
  it.each([
    ['dkms-3.0.10', '3.0.10', true],
    ['dkms-3.0.4', '3.0.4', true],
    ['dkms-3.0.3', '3.0.3', false],
    ['dkms:2.8.7', '2.8.7', false],
    ['', undefined, false],
  ])('`dkms --version` says %j', async (said, version, signs) => {
    const bin = new FakeBin().add('dkms', `echo '${said}'`);
    const root = tempDir();
    const result = await detectDkmsMok(root, { PATH: bin.path() }, undefined);
    expect(result).toMatchObject({ installed: true, version, signs, keyPresent: false, cert: undefined });
    expect(bin.calls()).toEqual(['dkms --version']);
  });

  it('reads mok.pub (never mok.key) under the sysroot and compares it with --sign-cert', async () => {
    const mok = makeKey('DKMS module signing key');
    const root = tempDir();
    writeTree(root, { 'var/lib/dkms/mok.key': 'secret, never read' });
    writeBytes(root, 'var/lib/dkms/mok.pub', mok.certDer);
    const same = await detectDkmsMok(root, { PATH: '' }, parseCert(mok.certDer));
    expect(same).toMatchObject({ installed: false, keyPresent: true, sameAsSigningCert: true });
    expect(same.cert?.name).toBe('DKMS module signing key');
    const other = await detectDkmsMok(root, { PATH: '' }, parseCert(makeKey('Other').certDer));
    expect(other.sameAsSigningCert).toBe(false);
  });

  it('compares versions numerically', () => {
    expect(atLeast('3.0.10', [3, 0, 4])).toBe(true);
    expect(atLeast('3.1', [3, 0, 4])).toBe(true);
    expect(atLeast('2.99.99', [3, 0, 4])).toBe(false);
  });
});

describe('--dry-run: the Module signing block', () => {
  it('says what will be signed with what, and the diagnosis with the DKMS state', async () => {
    const k = new SigningKernel().enforce();
    const { key, files, argv } = signingArgs();
    writeBytes(k.sysroot, 'var/lib/dkms/mok.pub', key.certDer);
    const result = await k.run(['--dry-run', ...argv], { FAKE_DKMS_VERSION: '3.0.10' });
    expect(result.code).toBe(0);
    const block = result.stdout.slice(
      result.stdout.indexOf('Module signing\n'),
      result.stdout.indexOf('falcoctl hand-off'),
    );
    expect(block).toContain(`  signing key:      ${files.key}  (command line (--sign-key))\n`);
    expect(block).toMatch(
      / {2}certificate: {6}.*cert\.der {2}\(command line \(--sign-cert\)\): 'Falco test signing key', serial [0-9A-F:]+\n/,
    );
    expect(block).toContain('  hash:             sha256  (default)\n');
    expect(block).toContain(
      `  signed with:      the built-in signer  (default: no ${k.sysroot}/lib/modules/${k.release}/build/scripts/sign-file and no kmodsign on PATH)\n`,
    );
    expect(block).toContain(
      '  * Module signature checks: Secure Boot off, lockdown not available, module.sig_enforce Y\n',
    );
    expect(block).toContain('that is the --sign-cert certificate, so its builds are not signed again\n');
    expect(result.stdout).toMatch(/\d+\. before each insmod: sign the module with the key of .*cert\.der \(sha256\)/);
    // Read-only: dkms is only asked its version; nothing is signed or loaded.
    expect(k.calls()).toEqual(['dkms --version']);
  });

  it('with a key and nothing enforced: still says whether DKMS signs its builds itself', async () => {
    const k = new SigningKernel();
    const { argv } = signingArgs();
    writeBytes(k.sysroot, 'var/lib/dkms/mok.pub', makeKey('DKMS module signing key').certDer);
    const result = await k.run(['--dry-run', ...argv], { FAKE_DKMS_VERSION: '3.0.10' });
    expect(result.stdout).toContain(
      "  dkms:             dkms 3.0.10 signs its builds with /var/lib/dkms/mok.key ('DKMS module signing key'); enroll it with mokutil --import /var/lib/dkms/mok.pub and reboot\n",
    );
    expect(result.stdout).toContain('    so unsigned modules load\n');
  });

  it('shows a refused key as the line a real run would stop with', async () => {
    const k = new SigningKernel();
    const { files, argv } = signingArgs();
    chmodSync(files.key, 0o640);
    const result = await k.run(['--dry-run', ...argv]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      `  signing:          a real run would stop here: Refusing the signing key ${files.key}: its mode 0640`,
    );
  });

  it('signing keeps the run standalone even where falcoctl could take it', async () => {
    const k = new SigningKernel();
    k.bin.add('falcoctl', 'echo "Client Version: 0.11.0"');
    const { argv } = signingArgs();
    const result = await k.run(['--dry-run', ...argv]);
    expect(result.stdout).toMatch(
      /decision: +standalone: falcoctl cannot sign modules before loading them \(--sign-key\)/,
    );
  });
});

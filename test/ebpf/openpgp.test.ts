import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KERNEL_ORG_AUTOSIGNER_FINGERPRINT } from '../../src/ebpf/kernelOrgKeys.js';
import { readPublicKeys, verifyClearsigned } from '../../src/ebpf/openpgp.js';
import { trustedKeys } from '../../src/ebpf/sourceCheck.js';
import { GpgSigner } from '../helpers/gpg.js';

let signer: GpgSigner;
let other: GpgSigner;
beforeAll(() => {
  signer = new GpgSigner();
  other = new GpgSigner('Someone Else <else@example.invalid>');
});
afterAll(() => {
  signer.dispose();
  other.dispose();
});

const SUMS = 'abc0  linux-6.1.tar.gz\n- dash line\ntrailing   \n';

describe('OpenPGP clearsigned verification (issue #13)', () => {
  it('the built-in kernel.org key parses to the pinned autosigner fingerprint', () => {
    const keys = trustedKeys({});
    expect(keys.map((k) => k.fingerprint)).toEqual([KERNEL_ORG_AUTOSIGNER_FINGERPRINT]);
    expect(keys[0]?.n.length).toBe(512); // RSA 4096
  });

  it('reads the fingerprint GnuPG reports for a key it exported', () => {
    const keys = readPublicKeys(readFileSync(signer.keyFile));
    expect(keys.map((k) => k.fingerprint)).toContain(signer.fingerprint);
  });

  it('accepts a message GnuPG clearsigned, and returns the signed text', () => {
    const verdict = verifyClearsigned(signer.clearsign(SUMS), readPublicKeys(readFileSync(signer.keyFile)));
    expect(verdict).toEqual({
      ok: true,
      text: 'abc0  linux-6.1.tar.gz\n- dash line\ntrailing   \n'.replace(/\n$/, ''),
      fingerprint: signer.fingerprint,
    });
  });

  it('refuses a changed text, another signer and a stripped signature', () => {
    const keys = readPublicKeys(readFileSync(signer.keyFile));
    const signed = signer.clearsign(SUMS);
    const tampered = signed.replace('abc0', 'abc1');
    expect(verifyClearsigned(tampered, keys)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/does not verify/),
    });
    expect(verifyClearsigned(other.clearsign(SUMS), keys)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/not a trusted key/),
    });
    expect(verifyClearsigned(SUMS, keys)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/not a clearsigned/),
    });
  });

  it('the kernel.org key does not accept a signature made by another key', () => {
    expect(verifyClearsigned(signer.clearsign(SUMS), trustedKeys({}))).toMatchObject({ ok: false });
  });
});

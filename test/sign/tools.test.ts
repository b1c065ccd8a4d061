import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCert } from '../../src/sign/cert.js';
import { appendSignature, buildSignedData, signedBy, splitSignature } from '../../src/sign/pkcs7.js';
import { chooseTool } from '../../src/sign/tools.js';
import { FakeBin } from '../helpers/fakeBin.js';
import { tempDir } from '../helpers/tmp.js';
import { moduleFor } from '../kmod/modules.js';
import { makeKey, skipNote, type TestKey } from './keys.js';
import { SigningKernel, signingArgs } from './signingKernel.js';

const FILE = 'falco_centos_6.1.0-13-amd64_1.ko';
const kernelSignFile = [process.env.FALCO_TEST_SIGN_FILE ?? '', '/usr/lib/linux-kbuild-6.1/scripts/sign-file'].find(
  (f) => f !== '' && existsSync(f),
);

/** The bytes sign-file would append to `module` (RSA signatures are deterministic), in a file a fake can `cat`. */
function trailerFor(module: Buffer, key: TestKey): string {
  const signed = appendSignature(module, buildSignedData(module, key.key, parseCert(key.certDer), 'sha256'));
  const file = path.join(tempDir(), 'trailer');
  writeFileSync(file, signed.subarray(module.length));
  return file;
}

function setup() {
  const k = new SigningKernel();
  const signing = signingArgs();
  const module = readFileSync(moduleFor(k.release));
  const file = k.cachePath(FILE);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, module);
  return { k, ...signing, module, file, trailer: trailerFor(module, signing.key) };
}

const TOOL_ARGV = /^(sign-file|kmodsign) sha256 (\S+) (\S+)\.x509 (\S+)$/;

describe('tool choice (--sign-tool auto)', () => {
  it("prefers the target kernel's sign-file, then kmodsign, then the built-in signer", () => {
    const k = new SigningKernel();
    const bin = new FakeBin();
    const t = { sysroot: k.sysroot, kernelRelease: k.release, env: { PATH: bin.path('') } };
    expect(chooseTool('auto', t)).toMatchObject({ tool: 'builtin', path: undefined });
    bin.add('kmodsign');
    expect(chooseTool('auto', t)).toMatchObject({ tool: 'kmodsign', path: path.join(bin.dir, 'kmodsign') });
    const signFile = k.signFile('exit 0');
    expect(chooseTool('auto', t)).toEqual({
      tool: 'sign-file',
      path: signFile,
      why: "the target kernel's own signing program",
    });
    expect(chooseTool('builtin', t).tool).toBe('builtin');
    expect(chooseTool('kmodsign', t).tool).toBe('kmodsign');
  });

  it('a forced tool that is missing is one clear error', () => {
    const k = new SigningKernel();
    const t = { sysroot: k.sysroot, kernelRelease: k.release, env: { PATH: '' } };
    expect(() => chooseTool('sign-file', t)).toThrow(
      `--sign-tool sign-file: ${path.join(k.sysroot, 'lib/modules', k.release, 'build/scripts/sign-file')} is missing or not executable (install the kernel headers for ${k.release}, or use --sign-tool auto)`,
    );
    expect(() => chooseTool('kmodsign', t)).toThrow('--sign-tool kmodsign: kmodsign is not on PATH');
  });
});

describe('each signing program, through a real run', () => {
  it("sign-file from the kernel's headers: sign-file <hash> <key> <cert.der> <module>, signing a temp copy", async () => {
    const s = setup();
    s.k.signFile(`cat "$FAKE_TRAILER" >> "$4"`);
    const result = await s.k.run(['--compile', ...s.argv], { FAKE_TRAILER: s.trailer });
    expect(result.stdout).toContain(`(sha256, sign-file): ${s.file}\n`);
    expect(result.stderr).toBe('');
    const call = s.k.callsOf('sign-file');
    expect(call).toHaveLength(1);
    const [, , key, cert, module] = TOOL_ARGV.exec(call[0] ?? '') ?? [];
    expect(key).toBe(s.files.key);
    expect(`${cert}`).toBe(module);
    expect(path.dirname(module ?? '')).toBe(path.dirname(s.file));
    expect(module).not.toBe(s.file);
    expect(signedBy(splitSignature(readFileSync(s.file)) as never, parseCert(s.key.certDer))).toBe(true);
    expect(s.k.callsOf('insmod')).toEqual([`insmod ${s.file}`]);
  });

  it('kmodsign on PATH when there is no sign-file', async () => {
    const s = setup();
    s.k.bin.add('kmodsign', 'cat "$FAKE_TRAILER" >> "$4"');
    const result = await s.k.run(['--compile', ...s.argv], { FAKE_TRAILER: s.trailer });
    expect(result.stdout).toContain(`using kmodsign (${path.join(s.k.bin.dir, 'kmodsign')})\n`);
    expect(result.stdout).toContain(`(sha256, kmodsign): ${s.file}\n`);
    expect(s.k.callsOf('kmodsign')[0]).toMatch(TOOL_ARGV);
    expect(result.code).toBe(0);
  });

  it.each([
    [
      'cannot run',
      'echo "sign-file: error while loading shared libraries: libcrypto.so.1.1" >&2; exit 127',
      /exited with 127: sign-file: error while loading shared libraries: libcrypto\.so\.1\.1: signing with the built-in signer instead/,
    ],
    [
      'appends garbage',
      'printf garbage >> "$4"',
      /left no valid signature by 'Falco test signing key': signing with the built-in signer instead/,
    ],
  ])('sign-file that %s: one warning, then the built-in signer', async (_, body, warning) => {
    const s = setup();
    s.k.signFile(body);
    const result = await s.k.run(['--compile', ...s.argv]);
    expect(result.stderr).toMatch(new RegExp(`^\\[WARNING\\] .*${warning.source}\n$`));
    expect(result.stdout).toContain(`(sha256, built-in signer): ${s.file}\n`);
    expect(signedBy(splitSignature(readFileSync(s.file)) as never, parseCert(s.key.certDer))).toBe(true);
    expect(result.code).toBe(0);
  });

  it('--sign-tool builtin never runs sign-file; DRIVER_SIGN_TOOL=sign-file without headers stops the run', async () => {
    const s = setup();
    s.k.signFile('exit 1');
    const builtin = await s.k.run(['--compile', ...s.argv, '--sign-tool', 'builtin']);
    expect(builtin.code).toBe(0);
    expect(builtin.stdout).toContain('using the built-in signer\n');
    expect(s.k.callsOf('sign-file')).toEqual([]);
    const k = new SigningKernel();
    const forced = await k.run(['--compile', ...s.argv], { DRIVER_SIGN_TOOL: 'sign-file' });
    expect(forced.code).toBe(1);
    expect(forced.stderr).toMatch(/^--sign-tool sign-file: .* is missing or not executable/);
    expect(k.calls()).toEqual([]);
  });

  it.runIf(kernelSignFile !== undefined)("the kernel's real sign-file, from the sysroot's headers", async () => {
    const s = setup();
    const target = s.k.signFile('');
    copyFileSync(kernelSignFile as string, target);
    const result = await s.k.run(['--compile', ...s.argv]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain(`(sha256, sign-file): ${s.file}\n`);
    // RSA signatures are deterministic: sign-file and the built-in signer write the same bytes.
    expect(readFileSync(s.file).equals(Buffer.concat([s.module, readFileSync(s.trailer)]))).toBe(true);
  });
});
if (kernelSignFile === undefined) {
  skipNote("the kernel's real sign-file in a run", 'set FALCO_TEST_SIGN_FILE to a scripts/sign-file');
}

// Keys of a different type work through the same tools.
describe('EC keys', () => {
  it('sign with ECDSA P-256 through the built-in signer', async () => {
    const s = setup();
    const ec = signingArgs('Falco EC key', 'p256');
    const result = await s.k.run(['--compile', ...ec.argv, '--sign-hash', 'sha384']);
    expect(result.stdout).toContain(`* Signed by 'Falco EC key' (sha384, built-in signer): ${s.file}\n`);
    const sig = splitSignature(readFileSync(s.file));
    expect(sig?.hash).toBe('sha384');
    expect(signedBy(sig as never, parseCert(makeKey('Falco EC key', 'p256').certDer))).toBe(true);
  });
});

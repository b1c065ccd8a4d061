import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/args.js';
import { usage } from '../../src/cli/usage.js';
import { resolveSigning } from '../../src/sign/config.js';
import { baseEnv, runMain } from '../helpers/run.js';
import { tempDir } from '../helpers/tmp.js';

const resolve = (argv: string[], env: NodeJS.ProcessEnv = {}) => resolveSigning(parseArgs(argv), env);

describe('signing options and variables (issue #10)', () => {
  it('is off without a key or certificate', () => {
    expect(resolve([])).toBeUndefined();
    expect(resolve([], { DRIVER_SIGN_KEY: '', DRIVER_SIGN_CERT: '' })).toBeUndefined();
  });

  it('takes --opt value and --opt=value; paths are made absolute; defaults sha256 and auto', () => {
    const spaced = resolve(['--sign-key', 'k.pem', '--sign-cert=/etc/c.der']);
    expect(spaced).toEqual({
      keyFile: path.resolve('k.pem'),
      certFile: '/etc/c.der',
      hash: 'sha256',
      tool: 'auto',
      sources: {
        key: 'command line (--sign-key)',
        cert: 'command line (--sign-cert)',
        hash: 'default',
        tool: 'default',
      },
    });
  });

  it('options win over DRIVER_SIGN_*; an empty option or variable counts as unset', () => {
    const env = {
      DRIVER_SIGN_KEY: '/env/key',
      DRIVER_SIGN_CERT: '/env/cert',
      DRIVER_SIGN_HASH: 'sha512',
      DRIVER_SIGN_TOOL: 'kmodsign',
    };
    const fromEnv = resolve([], env);
    expect(fromEnv).toMatchObject({ keyFile: '/env/key', certFile: '/env/cert', hash: 'sha512', tool: 'kmodsign' });
    expect(fromEnv?.sources).toEqual({
      key: 'environment (DRIVER_SIGN_KEY)',
      cert: 'environment (DRIVER_SIGN_CERT)',
      hash: 'environment (DRIVER_SIGN_HASH)',
      tool: 'environment (DRIVER_SIGN_TOOL)',
    });
    const mixed = resolve(['--sign-key=/opt/key', '--sign-hash', 'SHA384', '--sign-tool=builtin', '--sign-cert='], env);
    expect(mixed).toMatchObject({ keyFile: '/opt/key', certFile: '/env/cert', hash: 'sha384', tool: 'builtin' });
  });

  it.each([
    [['--sign-key', '/k'], {}, '--sign-key needs its X.509 certificate: give --sign-cert (or DRIVER_SIGN_CERT) too'],
    [[], { DRIVER_SIGN_CERT: '/c' }, 'DRIVER_SIGN_CERT needs a private key: give --sign-key (or DRIVER_SIGN_KEY) too'],
    [
      ['--sign-hash', 'sha256'],
      {},
      '--sign-hash is set, but no module signing key is: give --sign-key and --sign-cert',
    ],
    [
      [],
      { DRIVER_SIGN_TOOL: 'auto' },
      'DRIVER_SIGN_TOOL is set, but no module signing key is: give --sign-key and --sign-cert',
    ],
    [
      ['--sign-key', '/k', '--sign-cert', '/c', '--sign-hash', 'md5'],
      {},
      'Unsupported module signature hash "md5" from command line (--sign-hash): use sha224, sha256, sha384, sha512',
    ],
    [
      ['--sign-key', '/k', '--sign-cert', '/c'],
      { DRIVER_SIGN_HASH: 'sha1' },
      'Unsupported module signature hash "sha1" from environment (DRIVER_SIGN_HASH): use sha224, sha256, sha384, sha512',
    ],
    [
      ['--sign-key', '/k', '--sign-cert', '/c', '--sign-tool', 'openssl'],
      {},
      'Unknown signing program "openssl" from command line (--sign-tool): use auto, sign-file, kmodsign, builtin',
    ],
  ])('%j %j → %s', (argv, env, message) => {
    expect(() => resolve(argv, env)).toThrow(message);
  });

  it('a valued option at the end without a value is the legacy argument error (usage on stdout, exit 1)', async () => {
    for (const option of ['--sign-key', '--sign-cert', '--sign-hash', '--sign-tool']) {
      const result = await runMain([option], baseEnv({ HOST_ROOT: tempDir() }));
      expect(result).toEqual({ code: 1, stdout: usage(), stderr: `Option ${option} needs a value\n` });
    }
  });

  it('--print-env and --help never read the key (a bad key is not an error there)', async () => {
    const env = baseEnv({ HOST_ROOT: tempDir(), DRIVER_VERSION: '6.0.1+driver', FALCO_VERSION: '0.36.2' });
    const argv = ['--sign-key', '/nonexistent/key', '--sign-cert', '/nonexistent/cert'];
    expect((await runMain([...argv, '--print-env'], env)).code).toBe(0);
    expect((await runMain([...argv, '--help'], env)).code).toBe(0);
  });
});

import { chmodSync, existsSync, mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FakeKernel, type KernelOptions } from '../kmod/fakeKernel.js';
import { makeKey, type TestKey, writeKey } from './keys.js';

/**
 * The simulated kernel of test/kmod, plus module signature enforcement: with `sys/module/module/parameters/sig_enforce`
 * at Y, the fake insmod refuses a file without the signature marker ("Key was rejected by service", as the real
 * kernel under `module.sig_enforce=1`), and a signed one too when FAKE_UNTRUSTED is set (a key not enrolled).
 * `dkms --version` answers FAKE_DKMS_VERSION. Nothing here can reach a real insmod.
 */
export class SigningKernel extends FakeKernel {
  constructor(options: KernelOptions = {}) {
    super(options);
    for (const tool of ['tail', 'dd']) symlinkSync(`/usr/bin/${tool}`, path.join(this.bin.dir, 'tools', tool));
    this.wrap(
      'insmod',
      `SR="$FALCO_DRIVER_LOADER_SYSROOT"
if [ "$(cat "$SR/sys/module/module/parameters/sig_enforce" 2>/dev/null)" = Y ]; then
  if [ "$(tail -c 28 "$1")" != "~Module signature appended~" ] || [ -n "$FAKE_UNTRUSTED" ]; then
    export FAKE_INSMOD_ERROR="Key was rejected by service"
  fi
fi`,
    );
    this.wrap(
      'dkms',
      `[ "$1" = --version ] && { printf '%s\\n' "dkms $*" >> '${this.bin.log}'; echo "dkms-\${FAKE_DKMS_VERSION:-2.8.7}"; exit 0; }`,
    );
  }

  /** Runs `prelude` before the existing fake (which still logs the call), by moving that fake aside. */
  private wrap(name: string, prelude: string): void {
    const fake = path.join(this.bin.dir, name);
    if (!existsSync(fake)) return;
    const real = path.join(this.bin.dir, 'tools', `${name}.real`);
    renameSync(fake, real);
    writeFileSync(fake, `#!/bin/sh\n${prelude}\nexec '${real}' "$@"\n`);
    chmodSync(fake, 0o755);
  }

  enforce(): this {
    this.write('sys/module/module/parameters/sig_enforce', 'Y\n');
    return this;
  }

  /** A program at the sysroot's /lib/modules/<release>/build/scripts/sign-file. */
  signFile(body: string): string {
    const file = path.join(this.sysroot, 'lib/modules', this.release, 'build/scripts/sign-file');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `#!/bin/sh\nprintf '%s\\n' "sign-file $*" >> '${this.bin.log}'\n${body}\n`);
    chmodSync(file, 0o755);
    return file;
  }
}

/** A key pair on disk (mode 0600) and the options that select it. */
export function signingArgs(name = 'Falco test signing key', kind: 'rsa' | 'p256' = 'rsa') {
  const key: TestKey = makeKey(name, kind);
  const files = writeKey(key);
  return { key, files, argv: ['--sign-key', files.key, '--sign-cert', files.certDer] };
}

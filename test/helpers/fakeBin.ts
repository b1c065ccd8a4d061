import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './tmp.js';

/**
 * Fake programs first on PATH (wrangler's mockBinary idea): each appends "<name> <args…>" to a log and runs the
 * given shell body. Lets tests see exactly which programs the CLI started, without touching the machine.
 */
export class FakeBin {
  readonly dir = tempDir('fdl-bin-');
  readonly log = path.join(this.dir, 'calls.log');

  add(name: string, body = 'exit 0'): this {
    const file = path.join(this.dir, name);
    writeFileSync(file, `#!/bin/sh\nprintf '%s\\n' "${name} $*" >> '${this.log}'\n${body}\n`);
    chmodSync(file, 0o755);
    return this;
  }

  /** PATH with the fakes first, then the system (so /bin/sh etc. still work). */
  path(rest = '/usr/bin:/bin'): string {
    return `${this.dir}:${rest}`;
  }

  calls(): string[] {
    return existsSync(this.log) ? readFileSync(this.log, 'utf8').split('\n').filter(Boolean) : [];
  }
}

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

/**
 * Real ELF relocatable objects that look like kernel modules to every check the loader makes: `gcc -c` of a file
 * whose strings sit in a `.modinfo` section (toolchain-notes.md). Built once per test file, removed after it.
 */
export interface ModuleSpec {
  readonly vermagic?: string;
  readonly version?: string;
  /** Extra `key=value` entries, e.g. `fake=FAKE_INSMOD_REJECT` to make the fake insmod refuse the file. */
  readonly extra?: readonly string[];
}

let dir: string | undefined;
let count = 0;

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

export function buildModule(spec: ModuleSpec): string {
  dir ??= mkdtempSync(path.join(os.tmpdir(), 'fdl-ko-'));
  const entries = [
    ...(spec.vermagic === undefined ? [] : [`vermagic=${spec.vermagic}`]),
    ...(spec.version === undefined ? [] : [`version=${spec.version}`]),
    ...(spec.extra ?? []),
  ];
  const lines = entries.map(
    (e, i) =>
      `__attribute__((used, section(".modinfo"), aligned(1))) static const char mi${i}[] = ${JSON.stringify(e)};`,
  );
  const base = path.join(dir, `m${count++}`);
  writeFileSync(`${base}.c`, `${lines.join('\n')}\nint init_module(void) { return 0; }\n`);
  execFileSync('gcc', ['-c', '-O0', '-o', `${base}.ko`, `${base}.c`], { stdio: 'pipe' });
  return `${base}.ko`;
}

/** A module for the given kernel release and driver version, as a prebuilt or a DKMS build would be. */
export function moduleFor(release: string, version = '6.0.1+driver', extra: readonly string[] = []): string {
  return buildModule({ vermagic: `${release} SMP preempt mod_unload modversions `, version, extra });
}

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { shellEscape } from '../../src/cli/printEnv.js';
import { baseEnv, runMain } from '../helpers/run.js';
import { tempDir, writeTree } from '../helpers/tmp.js';

/** What a caller's shell makes of `eval "$(falco-driver-loader --print-env)"`: the variables it ends up with. */
function evalInShell(output: string, names: string[]): Record<string, string> {
  const script = `eval "$1"; for n in ${names.join(' ')}; do eval "printf '%s\\\\0' \\"\\$$n\\""; done`;
  const out = execFileSync('sh', ['-c', script, 'sh', output], { encoding: 'utf8' });
  return Object.fromEntries(
    out
      .split('\0')
      .slice(0, -1)
      .map((v, i) => [names[i], v]),
  );
}

describe('--print-env is safe to eval (issue #13)', () => {
  const hostile = (marker: string) => `$(touch ${marker})\`touch ${marker}\`\\"x"$HOME`;

  it.each([
    ['Flatcar VERSION_ID → KERNEL_RELEASE', 'flatcar', 'KERNEL_RELEASE'],
    ['Talos VERSION_ID → KERNEL_VERSION', 'talos', 'KERNEL_VERSION'],
  ])('%s: printed escaped, the shell runs nothing and reads the value back exactly', async (_n, id, variable) => {
    const hostRoot = tempDir();
    const marker = path.join(tempDir(), 'pwned');
    const value = hostile(marker);
    writeTree(hostRoot, { 'etc/os-release': `ID=${id}\nVERSION_ID='${value}'\n` });
    const env = baseEnv({
      HOST_ROOT: hostRoot,
      HOME: hostRoot,
      DRIVER_KERNEL_RELEASE: '6.1.0-13-amd64',
      DRIVER_KERNEL_VERSION: '#1 SMP',
      DRIVER_VERSION: '6.0.1+driver',
      FALCO_VERSION: '0.36.2',
    });
    const result = await runMain(['--print-env'], env);
    expect(result.code).toBe(0);
    const vars = evalInShell(result.stdout, [variable, 'TARGET_ID', 'FALCO_VERSION']);
    expect(existsSync(marker)).toBe(false);
    expect(vars[variable]).toBe(id === 'talos' ? `1_${value}` : value);
    expect(vars.TARGET_ID).toBe(id);
    expect(vars.FALCO_VERSION).toBe('0.36.2');
  });

  it('a value with a control character is refused in one line; legacy-safe values are unchanged', () => {
    expect(() => shellEscape('KERNEL_RELEASE', '3510.2.0\nEVIL=1')).toThrow(
      /^--print-env: KERNEL_RELEASE would be "3510\.2\.0\\nEVIL=1", which contains a control character/,
    );
    expect(shellEscape('KERNEL_VERSION', '#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)')).toBe(
      '#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)',
    );
  });
});

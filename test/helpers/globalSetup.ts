import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureNginx } from './nginx.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The nginx binary for the mirror test, or why there is none (that test then fails with the reason). */
    nginx: { binary: string } | { error: string };
  }
}

/**
 * CLI tests run the real bundle: build it once before any test, exactly as `npm run build` does. The mirror test
 * (issue 19) serves files with Debian's nginx: fetched here from the apt archive into the machine-level cache when
 * missing (never installed system-wide, no service started).
 */
export default function setup(project: TestProject): void {
  const root = path.resolve(import.meta.dirname, '../..');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  try {
    project.provide('nginx', { binary: ensureNginx() });
  } catch (error) {
    project.provide('nginx', { error: `cannot get Debian's nginx (apt-get download nginx): ${String(error)}` });
  }
}

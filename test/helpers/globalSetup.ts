import { execFileSync } from 'node:child_process';
import path from 'node:path';

/** CLI tests run the real bundle: build it once before any test, exactly as `npm run build` does. */
export default function setup(): void {
  const root = path.resolve(import.meta.dirname, '../..');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
}

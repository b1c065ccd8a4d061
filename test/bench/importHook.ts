/**
 * Preloaded with `node -r import-hook.cjs <instrumented bundle> --print-env`. The instrumented bundle (built by
 * run.mjs with the build's esbuild options) calls globalThis.__fdlEvaluated(<input path>) at the end of each bundled
 * module's body, so this records exactly which modules were evaluated (esbuild's lazy __esm/__commonJS wrappers
 * run a module's body only when something needs it), plus the Node built-ins loaded after this hook.
 */
import { writeFileSync } from 'node:fs';

const loadList = (): readonly string[] => (process as unknown as { moduleLoadList: string[] }).moduleLoadList;
// stdout/stderr are pipes here (net.Socket): set them up first so they are not counted as the bundle's.
const stdio = [process.stdout.fd, process.stderr.fd];
const before = new Set(loadList());
const evaluated: string[] = [];
(globalThis as { __fdlEvaluated?: (input: string) => void }).__fdlEvaluated = (input) => {
  evaluated.push(input);
};

process.on('exit', () => {
  const out = process.env.FDL_BENCH_IMPORTS_OUT;
  if (out === undefined) return;
  const builtins = loadList()
    .filter((m) => !before.has(m) && m.startsWith('NativeModule '))
    .map((m) => m.slice('NativeModule '.length));
  writeFileSync(out, JSON.stringify({ evaluated, builtins, stdio }));
});

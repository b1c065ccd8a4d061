#!/usr/bin/env node
// `npm run bench` (issue #9). Bundles the harness (test/bench/*.ts, which reuses the test helpers and src/) and the
// programs it starts with esbuild into a scratch directory, then runs it; see bench.ts. The scratch directory goes
// away at the end; test/bench/results.json (git-ignored) stays.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(import.meta.dirname, '..', '..');
const bench = path.join(root, 'test', 'bench');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'fdl-bench-'));
const out = (name) => path.join(scratch, name);

// The options of `npm run build` (package.json), so the instrumented bundle evaluates what dist's bundle does.
const BUILD = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', legalComments: 'none' };

/** The test helpers import vitest only for afterEach/afterAll clean-ups: collect those instead. */
const vitestStub = {
  name: 'vitest-stub',
  setup(build) {
    build.onResolve({ filter: /^vitest$/ }, () => ({ path: path.join(bench, 'vitestStub.ts') }));
  },
};

/** Ends every bundled module's body with a call naming it: evaluated means the marker ran (see importHook.ts). */
const evaluationMarkers = {
  name: 'evaluation-markers',
  setup(build) {
    build.onLoad({ filter: /\.[cm]?[jt]s$/ }, (args) => ({
      contents: `${readFileSync(args.path, 'utf8')}\n;globalThis.__fdlEvaluated?.(${JSON.stringify(path.relative(root, args.path))});\n`,
      loader: args.path.endsWith('.ts') ? 'ts' : 'js',
    }));
  },
};

let code = 1;
try {
  const quiet = { logLevel: 'warning' };
  await Promise.all([
    esbuild.build({
      ...BUILD,
      ...quiet,
      entryPoints: [path.join(bench, 'bench.ts')],
      format: 'esm',
      outfile: out('bench.mjs'),
      plugins: [vitestStub],
      // Bundled CommonJS dependencies (semver) call require(); give the ESM bundle one.
      banner: {
        js: "import { createRequire as __benchRequire } from 'node:module'; const require = __benchRequire(import.meta.url);",
      },
    }),
    ...[
      ['server.ts', 'server.cjs'],
      ['downloadClient.ts', 'download-client.cjs'],
      ['importHook.ts', 'import-hook.cjs'],
    ].map(([from, to]) =>
      esbuild.build({ ...BUILD, ...quiet, entryPoints: [path.join(bench, from)], outfile: out(to) }),
    ),
  ]);
  const instrumented = await esbuild.build({
    ...BUILD,
    ...quiet,
    entryPoints: [path.join(root, 'src', 'bin.ts')],
    outfile: out('cli-instrumented.cjs'),
    metafile: true,
    plugins: [evaluationMarkers],
  });
  await esbuild.build({
    ...BUILD,
    ...quiet,
    entryPoints: [path.join(root, 'src', 'bin.ts')],
    outfile: out('cli-without-heavy.cjs'),
    external: ['undici', 'execa'],
  });
  const { runBench } = await import(pathToFileURL(out('bench.mjs')).href);
  code = await runBench({
    root,
    work: out('work'),
    built: {
      server: out('server.cjs'),
      downloadClient: out('download-client.cjs'),
      importHook: out('import-hook.cjs'),
      instrumentedBundle: out('cli-instrumented.cjs'),
      bundleWithoutHeavy: out('cli-without-heavy.cjs'),
      bundleInputs: Object.keys(instrumented.metafile.inputs),
    },
  });
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
process.exitCode = code;

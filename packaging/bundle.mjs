#!/usr/bin/env node
// Bundles the CLI with esbuild (npm run build; build-sea.mjs imports bundleProgram()).
//
// Start-up (issue #17): undici (~1 MB of source) and execa (~0.2 MB) are ~85% of a whole bundle, and V8 pre-parses
// everything a script contains even when it never runs, so --print-env, --help, --version and --dry-run paid for them.
// They go into chunks of their own beside the main bundle, loaded by the first `import('undici')`/`import('execa')`
// (both are dynamic in src/): `<name>.<chunk>.cjs` next to the bundle when run by Node (bin/), or a SEA asset of the
// same name inside the single executable, compiled on first use.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(import.meta.dirname, '..');
export const CHUNKS = ['undici', 'execa'];
/** A chunk's entry: the package itself, or the subset the loader uses (packaging/chunks/<name>.cjs). */
const ENTRIES = { undici: path.join(ROOT, 'packaging', 'chunks', 'undici.cjs') };

/** The file name of a chunk beside `outfile` (and its SEA asset name). */
export const chunkName = (outfile, chunk) => `${path.basename(outfile, '.cjs')}.${chunk}.cjs`;

/**
 * What `import('<chunk>')` becomes in the main bundle: inside a single executable the asset is compiled with the
 * executable's require (built-ins only: the chunk is self-contained), elsewhere the file beside the bundle is required.
 */
function loaderSource(file) {
  return `
const sea = (() => { try { return require('node:sea'); } catch { return undefined; } })();
if (sea !== undefined && sea.isSea()) {
  const { compileFunction } = require('node:vm');
  const params = ['exports', 'require', 'module', '__filename', '__dirname'];
  const run = compileFunction(sea.getAsset(${JSON.stringify(file)}, 'utf8'), params, { filename: ${JSON.stringify(file)} });
  run.call(module.exports, module.exports, require, module, __filename, __dirname);
} else {
  module.exports = require(require('node:path').join(__dirname, ${JSON.stringify(file)}));
}
`;
}

function chunkPlugin(outfile) {
  return {
    name: 'fdl-chunks',
    setup(build) {
      const filter = new RegExp(`^(${CHUNKS.join('|')})$`);
      build.onResolve({ filter }, (args) => {
        // Only the loader's own imports; a chunk's internal imports resolve normally.
        if (!args.importer.startsWith(path.join(ROOT, 'src'))) return undefined;
        return { path: args.path, namespace: 'fdl-chunk' };
      });
      build.onLoad({ filter: /.*/, namespace: 'fdl-chunk' }, (args) => ({
        contents: loaderSource(chunkName(outfile, args.path)),
        loader: 'js',
        resolveDir: ROOT,
      }));
    },
  };
}

/**
 * Builds `outfile` from src/bin.ts and one `<name>.<chunk>.cjs` per chunk beside it. `options` are esbuild's
 * (target, minify, define, banner…), applied to all of them. Returns the main build's result, with the warnings of
 * all builds and, with `metafile: true`, `inputs`: every source file any of them bundled.
 */
export async function bundleProgram(outfile, options = {}) {
  const common = {
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    legalComments: 'none',
    logLevel: 'warning',
    ...options,
  };
  const [main, ...chunks] = await Promise.all([
    esbuild.build({
      ...common,
      entryPoints: [path.join(ROOT, 'src', 'bin.ts')],
      outfile,
      plugins: [...(options.plugins ?? []), chunkPlugin(outfile)],
    }),
    ...CHUNKS.map((chunk) =>
      esbuild.build({
        ...common,
        stdin: {
          contents: `module.exports = require(${JSON.stringify(ENTRIES[chunk] ?? chunk)});`,
          resolveDir: ROOT,
          loader: 'js',
        },
        outfile: path.join(path.dirname(outfile), chunkName(outfile, chunk)),
      }),
    ),
  ]);
  const results = [main, ...chunks];
  const inputs = [...new Set(results.flatMap((r) => Object.keys(r.metafile?.inputs ?? {})))];
  return { ...main, warnings: results.flatMap((r) => r.warnings), inputs };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await bundleProgram(path.join(ROOT, 'dist', 'falco-driver-loader.cjs'));
}

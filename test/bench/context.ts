import type { Report } from './report.js';
import type { SingleExecutable } from './setup.js';

/** Paths run.mjs built before the harness started. */
export interface Built {
  /** The HTTP repository (server.ts), run as its own process. */
  readonly server: string;
  /** download() alone (downloadClient.ts). */
  readonly downloadClient: string;
  /** `-r` preload recording evaluated modules (importHook.ts). */
  readonly importHook: string;
  /** dist's bundle rebuilt with the same esbuild options, each module marking its own evaluation. */
  readonly instrumentedBundle: string;
  /**
   * dist's bundle rebuilt with undici and execa left out (esbuild --external): what start-up costs without their
   * source in the file. Works for --print-env and --help only, which must never require them.
   */
  readonly bundleWithoutHeavy: string;
  /** Every input esbuild put into that bundle (metafile), relative to the repository. */
  readonly bundleInputs: readonly string[];
}

export interface BenchContext {
  readonly root: string;
  /** A fresh temp dir for this run, removed at the end. */
  readonly work: string;
  readonly report: Report;
  /** Progress, on stderr (stdout carries the table). */
  readonly log: (line: string) => void;
  readonly built: Built;
  /** dist/falco-driver-loader.cjs and the bin/ shim that runs it with the Node on PATH. */
  readonly bundle: string;
  readonly shim: string;
  readonly sea: SingleExecutable | undefined;
  /** GNU time (peak RSS of a child), curl (the download reference), gcc (test modules): undefined when missing. */
  readonly time: string | undefined;
  readonly curl: string | undefined;
  readonly gcc: string | undefined;
}

/** The environment of the start-up and import runs: no falco on PATH, so --print-env spawns nothing. */
export function quietEnv(ctx: BenchContext): NodeJS.ProcessEnv {
  const nodeDir = process.execPath.slice(0, process.execPath.lastIndexOf('/'));
  return { PATH: `${nodeDir}:/usr/bin:/bin`, HOME: `${ctx.work}/home`, LANG: 'C' };
}

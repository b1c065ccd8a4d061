import { mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BUILD_DEFAULTS } from '../defaults.js';
import { type Streams, UserError } from '../errors.js';
import type { DownloadOptions } from '../fetch/download.js';
import type { Terminal } from '../fetch/progress.js';
import { redact } from '../fetch/redact.js';
import { downloadSettingsFrom } from '../fetch/settings.js';
import { MIRROR_USAGE, parseMirrorArgs } from './args.js';
import { type FileOutcome, fetchOne, pool } from './fetch.js';
import { neededFiles, parsePlans } from './plans.js';
import { MirrorProgress, summaryTable } from './report.js';
import { writeSums } from './sums.js';

export interface MirrorIo extends Streams {
  /** Standard input, for `--plans -`. */
  readonly stdin: () => string;
  /** Where the progress bar goes (stderr when it is a terminal); undefined: one line per file. */
  readonly terminal: Terminal | undefined;
  /** Tests turn the download timings down (backoff, idle timeout). */
  readonly downloadOptions?: Partial<DownloadOptions>;
}

/**
 * `falco-driver-loader mirror` (issue 19): every driver file the plans need, fetched from upstream into a directory
 * laid out as a DRIVERS_REPO, with a SHA256SUMS per <version>/<arch>/. Bad input is refused before any request.
 * Per-file lines and the bar go to stderr, the summary table to stdout. Exit 0 only when every file is there
 * (--allow-partial: when nothing failed, missing-upstream files accepted).
 */
export async function runMirror(argv: readonly string[], env: NodeJS.ProcessEnv, io: MirrorIo): Promise<number> {
  const args = parseMirrorArgs(argv);
  if (args.help) {
    io.out(MIRROR_USAGE);
    return 0;
  }
  const text = args.plans === '-' ? io.stdin() : readPlans(args.plans ?? '');
  const rows = parsePlans(text);
  const repos = args.repos.length > 0 ? args.repos : upstreamFromEnv(env);
  const out = path.resolve(args.out ?? '');
  const files = [...neededFiles(rows, repos, out).values()];
  const settings = downloadSettingsFrom(
    {
      curlOptions: env.DRIVER_CURL_OPTIONS ?? '',
      insecure: args.httpInsecure || (env.DRIVER_INSECURE_DOWNLOAD ?? '') !== '',
      httpHeaders: args.httpHeaders ?? (env.FALCOCTL_DRIVER_HTTP_HEADERS || undefined),
    },
    env,
    (line) => io.err(`${line}\n`),
  );
  try {
    mkdirSync(out, { recursive: true });
  } catch (error) {
    throw new UserError(`Cannot create the mirror directory ${out}: ${(error as Error).message}`);
  }
  const required = args.requireChecksum || (env.FALCO_DRIVER_LOADER_REQUIRE_CHECKSUM ?? '') !== '';
  io.err(
    `* Mirroring ${files.length} file(s) for ${rows.length} plan(s) into ${out} from ${repos.map(redact).join(', ')} (${args.concurrency} at a time)\n`,
  );
  const progress = new MirrorProgress(files.length, io.terminal, (line) => io.err(`${line}\n`));
  const ctx = {
    out,
    settings,
    options: { env, ...io.downloadOptions, terminal: undefined },
    policy: { required, tmpdir: env.TMPDIR || os.tmpdir(), memo: new Map() }, // one SHA256SUMS request per directory
    log: (line: string) => progress.note(line),
  };
  const outcomes: FileOutcome[] = await pool(files, args.concurrency, async (file) => {
    const outcome = await fetchOne(file, ctx);
    progress.finished(outcome);
    return outcome;
  });
  progress.end();
  const dirs = new Set(files.map((f) => path.join(out, f.driverVersion, f.arch)));
  for (const dir of [...dirs].sort()) {
    try {
      await writeSums(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error; // nothing fetched there: no directory
    }
  }
  io.out(summaryTable(outcomes));
  const failed = outcomes.filter((o) => o.state === 'failed').length;
  const missing = outcomes.filter((o) => o.state === 'missing').length;
  if (failed === 0 && missing === 0) return 0;
  io.err(
    `* ${failed} file(s) failed, ${missing} missing upstream: ${failed > 0 ? 'run mirror again to retry what failed' : 'build those drivers yourself (driverkit) or accept a partial mirror with --allow-partial'}\n`,
  );
  return failed === 0 && args.allowPartial ? 0 : 1;
}

function readPlans(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new UserError(`Cannot read the plans ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

/** The same repository list the loader would use upstream: DRIVERS_REPO, FALCOCTL_DRIVER_REPOS, the default. */
function upstreamFromEnv(env: NodeJS.ProcessEnv): string[] {
  const legacy = env.DRIVERS_REPO ?? '';
  if (legacy !== '') return legacy.split(/[,\s]+/).filter((r) => r !== '');
  const falcoctl = env.FALCOCTL_DRIVER_REPOS ?? '';
  if (falcoctl !== '') return falcoctl.split(/[,;\s]+/).filter((r) => r !== '');
  return [BUILD_DEFAULTS.driversRepo];
}

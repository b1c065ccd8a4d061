import { UserError } from '../errors.js';

/** `falco-driver-loader mirror …` (issue 19). */
export interface MirrorArgs {
  readonly help: boolean;
  /** A file of plans, or '-' for stdin. */
  readonly plans: string | undefined;
  readonly out: string | undefined;
  /** Upstream repositories, in order; empty: DRIVERS_REPO, else the built-in default. */
  readonly repos: readonly string[];
  readonly concurrency: number;
  /** Exit 0 although some files are missing upstream (never when a fetch failed). */
  readonly allowPartial: boolean;
  readonly httpInsecure: boolean;
  readonly httpHeaders: string | undefined;
  readonly requireChecksum: boolean;
}

export const MIRROR_USAGE = `Usage:
  falco-driver-loader mirror --plans <file|-> --out <dir> [options]

Fills <dir> with every driver file the plans need, laid out as a DRIVERS_REPO (<version>/<arch>/<file>), with a
SHA256SUMS in each <version>/<arch>/ directory. Serve <dir> with any static web server, or use it as file://<dir>.

Plans, one per line (blank lines and lines starting with # are skipped):
  - a document printed by 'falco-driver-loader --dry-run --json' (collect one per node), or
  - a row: <target id> <kernel release> <kernel version> <arch> <driver name> <driver version> [kmod|ebpf|all]
    (release and version as used in file names: the target.fixedKernelRelease/fixedKernelVersion of --dry-run --json;
    the driver kind defaults to kmod)

Options:
  --plans <file|->      where the plans are read from ('-' for standard input)
  --out <dir>           the mirror directory (created when missing; files already complete are not fetched again)
  --repo <url>          an upstream repository, tried in order; repeat for more (default: DRIVERS_REPO, else the
                        built-in default)
  --concurrency <n>     files fetched at the same time, 1-32 (default 4)
  --allow-partial       exit 0 even when some files are missing upstream (a failed fetch still exits 1)
  --require-checksum    refuse an upstream file no SHA256SUMS beside it vouches for
  --http-insecure       do not verify HTTPS certificates (same as DRIVER_INSECURE_DOWNLOAD)
  --http-headers <h>    extra HTTP headers, comma separated: 'Name: value,Other: value'
  -h, --help            show this help

Downloads follow the loader's rules: DRIVER_CURL_OPTIONS, HTTPS_PROXY/HTTP_PROXY/NO_PROXY,
FALCO_DRIVER_LOADER_MAX_DOWNLOAD_BYTES, FALCO_DRIVER_LOADER_REQUIRE_CHECKSUM.
Exit 0 when every needed file is in <dir>.
`;

const VALUED = ['--plans', '--out', '--repo', '--concurrency', '--http-headers'] as const;

export function parseMirrorArgs(argv: readonly string[]): MirrorArgs {
  const values = new Map<string, string[]>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] as string;
    if (word === '-h' || word === '--help') return { ...defaults(), help: true };
    if (['--allow-partial', '--http-insecure', '--require-checksum'].includes(word)) {
      flags.add(word);
      continue;
    }
    const eq = word.indexOf('=');
    const name = eq < 0 ? word : word.slice(0, eq);
    if (!(VALUED as readonly string[]).includes(name)) {
      throw mirrorError(`Unknown mirror option: ${JSON.stringify(word.slice(0, 64))}`);
    }
    let value: string | undefined = eq < 0 ? argv[i + 1] : word.slice(eq + 1);
    if (eq < 0) i++;
    if (value === undefined || value === '') throw mirrorError(`Option ${name} needs a value`);
    if (name !== '--repo' && values.has(name)) throw mirrorError(`Option ${name} was given twice`);
    values.set(name, [...(values.get(name) ?? []), value]);
    value = undefined;
  }
  const one = (name: string) => values.get(name)?.[0];
  const concurrencyText = one('--concurrency') ?? '4';
  if (!/^\d{1,2}$/.test(concurrencyText) || Number(concurrencyText) < 1 || Number(concurrencyText) > 32) {
    throw mirrorError(`--concurrency must be a whole number from 1 to 32, not ${JSON.stringify(concurrencyText)}`);
  }
  const parsed: MirrorArgs = {
    help: false,
    plans: one('--plans'),
    out: one('--out'),
    repos: values.get('--repo') ?? [],
    concurrency: Number(concurrencyText),
    allowPartial: flags.has('--allow-partial'),
    httpInsecure: flags.has('--http-insecure'),
    httpHeaders: one('--http-headers'),
    requireChecksum: flags.has('--require-checksum'),
  };
  if (parsed.plans === undefined) throw mirrorError('mirror needs --plans <file|->: the plans to fetch drivers for');
  if (parsed.out === undefined) throw mirrorError('mirror needs --out <dir>: where to put the mirror');
  return parsed;
}

function defaults(): MirrorArgs {
  return {
    help: false,
    plans: undefined,
    out: undefined,
    repos: [],
    concurrency: 4,
    allowPartial: false,
    httpInsecure: false,
    httpHeaders: undefined,
    requireChecksum: false,
  };
}

function mirrorError(message: string): UserError {
  return new UserError(`${message} (see falco-driver-loader mirror --help)`);
}

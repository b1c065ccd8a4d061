import { UserError } from '../errors.js';
import { quoted } from './text.js';
import { usage } from './usage.js';

export type DriverKind = 'kmod' | 'ebpf' | 'modern_ebpf' | 'auto';

/** Driver words of both generations, translated once, here (legacy `module`/`bpf`, falcoctl-era names). */
const DRIVER_WORDS: Readonly<Record<string, DriverKind>> = {
  module: 'kmod',
  kmod: 'kmod',
  bpf: 'ebpf',
  ebpf: 'ebpf',
  modern_ebpf: 'modern_ebpf',
  'modern-bpf': 'modern_ebpf',
  auto: 'auto',
};

/** `falco-driver-loader mirror …` (issue 19): only as the first word, where the legacy grammar had no meaning for it. */
export const MIRROR_COMMAND = 'mirror';

export interface ParsedArgs {
  /** Stops at the first of these, as the legacy loop did (`--help` exits before later words are read). */
  readonly help: boolean;
  readonly version: boolean;
  readonly driver: DriverKind | undefined;
  readonly compile: boolean;
  readonly download: boolean;
  readonly clean: boolean;
  readonly printEnv: boolean;
  readonly sourceOnly: boolean;
  readonly dryRun: boolean;
  readonly check: boolean;
  /** With --dry-run: one JSON document instead of the prose (issue 19). */
  readonly json: boolean;
  readonly requireChecksum: boolean;
  readonly httpInsecure: boolean;
  readonly kernelRelease: string | undefined;
  readonly kernelVersion: string | undefined;
  readonly httpHeaders: string | undefined;
  /** Hand-off policy to falcoctl: auto, never, always (issue #5). */
  readonly falcoctl: string | undefined;
  /** Module signing (issue #10): private key, its certificate, hash, program. */
  readonly signKey: string | undefined;
  readonly signCert: string | undefined;
  readonly signHash: string | undefined;
  readonly signTool: string | undefined;
}

const FLAGS = {
  '--compile': 'compile',
  '--download': 'download',
  '--clean': 'clean',
  '--print-env': 'printEnv',
  '--source-only': 'sourceOnly',
  '--dry-run': 'dryRun',
  '--check': 'check',
  '--json': 'json',
  '--require-checksum': 'requireChecksum',
  '--http-insecure': 'httpInsecure',
} as const;

const VALUED = {
  '--kernel-release': 'kernelRelease',
  '--kernel-version': 'kernelVersion',
  '--http-headers': 'httpHeaders',
  '--falcoctl': 'falcoctl',
  '--sign-key': 'signKey',
  '--sign-cert': 'signCert',
  '--sign-hash': 'signHash',
  '--sign-tool': 'signTool',
} as const;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The 0.36 grammar (legacy-loader.md §A.2): words scanned left to right, one driver word at most, flags without
 * values, no `--` terminator, `-h`/`--help` ends the scan. Argument errors print the message on stderr and the usage
 * on stdout, exit 1, exactly as the script did. Valued options come from the falcoctl-era image and take
 * `--opt value` or `--opt=value`. Hand-written rather than yargs: the legacy grammar is word-exact (`--compile=x` is an
 * unknown option, `-x` an unknown driver), which a general option parser would accept or reword.
 */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const parsed: Mutable<ParsedArgs> = {
    help: false,
    version: false,
    driver: undefined,
    compile: false,
    download: false,
    clean: false,
    printEnv: false,
    sourceOnly: false,
    dryRun: false,
    check: false,
    json: false,
    requireChecksum: false,
    httpInsecure: false,
    kernelRelease: undefined,
    kernelVersion: undefined,
    httpHeaders: undefined,
    falcoctl: undefined,
    signKey: undefined,
    signCert: undefined,
    signHash: undefined,
    signTool: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] as string;
    const driver = DRIVER_WORDS[word];
    if (driver !== undefined) {
      if (parsed.driver !== undefined) throw argumentError('Only one driver per invocation');
      parsed.driver = driver;
      continue;
    }
    if (word === '-h' || word === '--help') return { ...parsed, help: true };
    if (word === '--version') return { ...parsed, version: true };
    if (Object.hasOwn(FLAGS, word)) {
      parsed[FLAGS[word as keyof typeof FLAGS]] = true;
      continue;
    }
    const [name, inline] = splitInline(word);
    if (Object.hasOwn(VALUED, name)) {
      let value = inline;
      if (value === undefined) {
        value = argv[i + 1];
        if (value === undefined) throw argumentError(`Option ${name} needs a value`);
        i++;
      }
      parsed[VALUED[name as keyof typeof VALUED]] = value;
      continue;
    }
    if (word.startsWith('--')) throw argumentError(`Unknown option: ${shown(word)}`);
    throw argumentError(`Unknown driver: ${shown(word)}`);
  }
  if (parsed.clean && (parsed.compile || parsed.download)) {
    throw new UserError('Cannot use --clean with other options');
  }
  return parsed;
}

function splitInline(word: string): [string, string | undefined] {
  const eq = word.indexOf('=');
  return eq < 0 ? [word, undefined] : [word.slice(0, eq), word.slice(eq + 1)];
}

/** The word as typed (the legacy text), unless it would break the one-line message or the terminal (issue #8). */
function shown(word: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must not be printed raw
  return word.length > 64 || /[\u0000-\u001f\u007f-\u009f]/.test(word) ? quoted(word) : word;
}

function argumentError(message: string): UserError {
  return new UserError(message, { stdout: usage() });
}

/**
 * Lines that callers and log scrapers depend on, verbatim from the legacy 0.36 script
 * (legacy-loader.md §B.3–§B.6). Keep the text byte for byte; change only the values.
 */
export const msg = {
  /** §B.4.1, printed after the target-id rewrite. */
  header: (v: {
    falcoVersion: string;
    driverVersion: string;
    arch: string;
    kernelRelease: string;
    kernelVersion: string;
  }) =>
    `* Running falco-driver-loader for: falco version=${v.falcoVersion}, driver version=${v.driverVersion}, arch=${v.arch}, kernel release=${v.kernelRelease}, kernel version=${v.kernelVersion}`,
  /** §B.4.2 (stderr). */
  notRoot: 'This program must be run as root (or with sudo)',
  /** §B.4.3 (stderr). */
  unsupportedCompileAnyway:
    'Detected an unsupported target system, please get in touch with the Falco community. Trying to compile anyway.',
  unsupported: 'Detected an unsupported target system, please get in touch with the Falco community.',
  /** §B.5 */
  cleanWith: (driver: string) => `* Running falco-driver-loader with: driver=${driver}, clean=yes`,
  cleanBpf: '--clean not supported for driver=bpf',
  /** §B.6, §B.7 */
  runWith: (driver: string, compile: boolean, download: boolean) =>
    `* Running falco-driver-loader with: driver=${driver}, compile=${compile ? 'yes' : 'no'}, download=${download ? 'yes' : 'no'}`,
} as const;

/** --source-only cannot work for an executable (issue #2): one stderr line, exit 0. */
export const SOURCE_ONLY_HINT =
  'falco-driver-loader: --source-only only worked when the old bash script was sourced; this executable cannot be sourced. Use eval "$(falco-driver-loader --print-env)" to import its variables into a shell.';

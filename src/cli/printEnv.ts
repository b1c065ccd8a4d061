import { UserError } from '../errors.js';
import type { Target } from '../target/index.js';
import type { DriverKind } from './args.js';
import type { Settings } from './settings.js';

/** The legacy DRIVER value: `module`/`bpf` for the two drivers the script knew, the falcoctl name otherwise. */
export function legacyDriverWord(driver: DriverKind): string {
  if (driver === 'kmod') return 'module';
  if (driver === 'ebpf') return 'bpf';
  return driver;
}

/**
 * The 11 lines of legacy-loader.md §B.3, byte for byte: values in double quotes, in this order. Callers
 * `eval "$(falco-driver-loader --print-env)"`, and some values come from the host's os-release (Flatcar's VERSION_ID
 * is KERNEL_RELEASE, Talos's is in KERNEL_VERSION), so the four characters a shell still interprets inside double
 * quotes (`$`, backtick, `\`, `"`) are backslash-escaped (issue #13); no legacy host has them, so the recorded
 * output is unchanged. A control character is refused: escaped or not, it would split the line-per-variable output.
 * Kept quirk (§B.12.12): ENABLE_DOWNLOAD shows the requested value even for an undetermined target.
 */
export function printEnv(settings: Settings, target: Target): string {
  const yes = (b: boolean) => (b ? 'yes' : '');
  const lines: Array<[string, string]> = [
    ['ARCH', settings.arch],
    ['KERNEL_RELEASE', target.fixedKernelRelease],
    ['KERNEL_VERSION', target.fixedKernelVersion],
    ['ENABLE_COMPILE', yes(settings.enableCompile)],
    ['ENABLE_DOWNLOAD', yes(settings.enableDownload)],
    ['TARGET_ID', target.targetId],
    ['DRIVER', legacyDriverWord(settings.driver.value)],
    ['DRIVERS_REPO', settings.reposText],
    ['DRIVER_VERSION', settings.driverVersion.value],
    ['DRIVER_NAME', settings.driverName.value],
    ['FALCO_VERSION', settings.falcoVersion.value],
  ];
  return lines.map(([k, v]) => `${k}="${shellEscape(k, v)}"\n`).join('');
}

/** The text between double quotes that a POSIX shell reads back as exactly `value`, expanding nothing. */
export function shellEscape(name: string, value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused here
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw new UserError(
      `--print-env: ${name} would be ${JSON.stringify(value.slice(0, 64))}, which contains a control character; check the host's os-release and the DRIVER_* variables`,
    );
  }
  return value.replace(/[$`\\"]/g, '\\$&');
}

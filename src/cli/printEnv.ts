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
 * The 11 lines of legacy-loader.md §B.3, byte for byte: values in double quotes, unescaped, in this order.
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
  return lines.map(([k, v]) => `${k}="${v}"\n`).join('');
}

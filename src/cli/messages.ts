import type { DkmsMok } from '../sign/dkmsMok.js';

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

/** `* Filename '<file>' is composed of:` and its four lines (§B.6.2 step 1, §B.7 step 2). */
export const filenameBlock = (v: {
  fileName: string;
  driverName: string;
  targetId: string;
  kernelRelease: string;
  kernelVersion: string;
}) =>
  [
    `* Filename '${v.fileName}' is composed of:`,
    ` - driver name: ${v.driverName}`,
    ` - target identifier: ${v.targetId}`,
    ` - kernel release: ${v.kernelRelease}`,
    ` - kernel version: ${v.kernelVersion}`,
  ].join('\n');

/** The kernel-module lines of the legacy 0.36 script (legacy-loader.md §B.6), verbatim. `k` is KMOD_NAME, `name` DRIVER_NAME. */
export const kmodMsg = {
  /** §B.6.1 Cleaning phase (all stdout, except the two "requires" lines and rmmod's own errors). */
  cleaningBanner: '================ Cleaning phase ================',
  requiresLsmod: 'This program requires lsmod.',
  requiresRmmod: 'This program requires rmmod.',
  checkLoaded: (k: string) => `* 1. Check if kernel module '${k}' is still loaded:`,
  notLoaded: (k: string) => `- OK! There is no '${k}' module loaded.`,
  stillLoaded: (k: string) => `- Kernel module '${k}' is still loaded.`,
  tryingRmmod: (k: string) => `- Trying to unload it with 'rmmod ${k}'...`,
  unloaded: (k: string) => `- OK! Unloading '${k}' module succeeded.`,
  rmmodWaiting:
    "- Nothing to do...'falco-driver-loader' will wait until you remove the kernel module to have a clean termination.",
  rmmodCheck: (k: string) => `- Check that no process is using the kernel module with 'lsmod | grep ${k}'.`,
  /** Legacy text is "Sleep 5 seconds..."; the number is the configured wait (FALCO_DRIVER_LOADER_RMMOD_WAIT_SECONDS). */
  rmmodSleep: (seconds: number) => `- Sleep ${seconds} seconds...`,
  stillLoadedWarning: (k: string) => `[WARNING] '${k}' module is still loaded, you could have incompatibility issues.`,
  skipDkmsRemove: '- Skipping dkms remove (dkms not found).',
  checkDkms: (k: string) => `* 2. Check all versions of kernel module '${k}' in dkms:`,
  noDkmsVersions: (k: string) => `- OK! There are no '${k}' module versions in dkms.`,
  someDkmsVersions: (k: string) => `- There are some versions of '${k}' module in dkms.`,
  removingAll: '* 3. Removing all the following versions from dkms:',
  removing: (version: string) => `- Removing ${version}...`,
  removed: (version: string) => `- OK! Removing '${version}' succeeded.`,
  removeFailed: (k: string, version: string) => `[WARNING] Removing '${k}' version '${version}' failed.`,
  cleaningDone: '[SUCCESS] Cleaning phase correctly terminated.',
  /** §B.6.2 local cache. */
  lookingLocally: (name: string, kernelRelease: string) =>
    `* Looking for a ${name} module locally (kernel ${kernelRelease})`,
  foundCached: (name: string, file: string) => `* Found a prebuilt ${name} module at ${file}, loading it`,
  inserted: (name: string) => `* Success: ${name} module found and inserted`,
  /** §B.6.3 download. */
  tryingDownload: (name: string, url: string) => `* Trying to download a prebuilt ${name} module from ${url}`,
  downloadSucceeded: '* Download succeeded',
  notDownloaded: (name: string) => `Unable to find a prebuilt ${name} module`,
  prebuiltInsmodFailed: (name: string) => `Unable to insmod the prebuilt ${name} module`,
  /** §B.6.4 DKMS. */
  uek: 'Skipping because the dkms install always fail (on UEK hosts)',
  requiresDkms: 'This program requires dkms',
  tryingDkms: (name: string, gcc: string) => `* Trying to dkms install ${name} module with GCC ${gcc}`,
  dkmsInstalled: (name: string) => `* ${name} module installed in dkms`,
  dkmsFileNotFound: (name: string) => `${name} module file not found`,
  dkmsFound: (name: string, file: string) => `* ${name} module found: ${file}`,
  tryingInsmod: '* Trying to insmod',
  dkmsLoaded: (name: string) => `* Success: ${name} module found and loaded in dkms`,
  dkmsInsmodFailed: (name: string) => `* Unable to insmod ${name} module`,
  makeLogDump: (log: string, gcc: string) => `* Running dkms build failed, dumping ${log} (with GCC ${gcc})`,
  makeLogMissing: (log: string, gcc: string) => `* Running dkms build failed, couldn't find ${log} (with GCC ${gcc})`,
  /** §B.6.5–§B.6.6 */
  tryingModprobe: (name: string) => `* Trying to load a system ${name} module, if present`,
  modprobeLoaded: (name: string) => `* Success: ${name} module found and loaded with modprobe`,
  consider: (name: string) =>
    `Consider compiling your own ${name} driver and loading it or getting in touch with the Falco community`,
} as const;

/** Lines the legacy script did not have (issue #3): checks before and after insmod, the lock, missing headers. */
export const kmodNote = {
  cachedRejected: (name: string, file: string, why: string) =>
    `The cached ${name} module ${file} is not usable (${why}): removed it, trying the next source`,
  cachedInsmodFailed: (name: string, file: string) =>
    `Unable to insmod the cached ${name} module: removed ${file}, trying the next source`,
  downloadRejected: (why: string) => `Download failed: ${why}`,
  removedFromCache: (file: string) => `* Removed ${file} from the cache so that it is not tried again`,
  dkmsModuleRejected: (file: string, why: string) => `The module built by dkms (${file}) is not usable: ${why}`,
  loadedVersion: (k: string, version: string) => `* Loaded '${k}' module version: ${version}`,
  versionMismatch: (k: string, loaded: string, wanted: string) =>
    `[WARNING] The loaded '${k}' module is version ${loaded}, not driver version ${wanted}: Falco may refuse it; run falco-driver-loader --clean and try again`,
  notInSysfs: (tool: string, k: string) =>
    `${tool} reported success, but /sys/module/${k} does not exist: the module did not register as '${k}'`,
  missingTool: (tool: string, what: string) => `${tool} not found on PATH: cannot ${what}`,
  noGcc: (name: string) => `No gcc found on PATH: install gcc to build the ${name} module with dkms`,
  missingHeaders: (release: string, headersDir: string, advice: string) =>
    `Kernel headers for ${release} are missing (no ${headersDir}): ${advice}; skipping the dkms build`,
  badWrapperPath: (value: string) =>
    `Cannot write the dkms make wrapper: ${JSON.stringify(value)} contains a quote or a newline (check TMPDIR and PATH)`,
  wrapperFailed: (file: string, reason: string) => `Cannot write the dkms make wrapper ${file}: ${reason}`,
  /** Issue #14: the Cleaning phase of a module run could not unload it (`use` from src/kmod/holders.ts). */
  inUse: (k: string, attempts: number, use: string) =>
    `Kernel module '${k}' is still in use after ${attempts} rmmod attempts (${use}): stop what uses it (Falco: systemctl stop falco, or stop its container), then run falco-driver-loader again; the loaded module was left as it is`,
  /** Issue #8: `build` is "dkms build" or "eBPF probe build". */
  tmpdirUnusable: (tmpdir: string, reason: string, build: string) =>
    `TMPDIR ${tmpdir} cannot be used (${reason}): the ${build} writes its work files there; create it or point TMPDIR at a writable directory. Skipping the ${build}`,
} as const;

/** The run lock (issue #3): one line while waiting, one when giving up, one when interrupted. */
export const lockMsg = {
  waiting: (pid: number, file: string, seconds: number) =>
    `* Waiting for another falco-driver-loader (pid ${pid}) to finish (lock ${file}, up to ${seconds} s)`,
  timeout: (pid: number, file: string, seconds: number) =>
    `Another falco-driver-loader (pid ${pid}) still holds ${file} after ${seconds} s: wait for it to finish (the kernel releases its lock when it exits, however it exits)`,
  unusable: (file: string, reason: string) =>
    `[WARNING] Cannot use the lock file ${file} (${reason}): running without protection against a concurrent falco-driver-loader`,
  interrupted: (signal: string) => `falco-driver-loader: interrupted by ${signal}`,
} as const;

/** The eBPF lines of the legacy 0.36 script, verbatim (legacy-loader.md §B.7), and the new ones of issue #4. */
export const ebpfMsg = {
  mountingDebugfs: '* Mounting debugfs',
  skipDownload: (p: string) => `* Skipping download, eBPF probe is already present in ${p}`,
  tryDownload: (url: string) => `* Trying to download a prebuilt eBPF probe from ${url}`,
  downloadFailed: (name: string) => `Unable to find a prebuilt ${name} eBPF probe`,
  skipCompile: (p: string) => `* Skipping compilation, eBPF probe is already present in ${p}`,
  cos: (buildId: string) => `* COS detected (build ${buildId}), using COS kernel headers`,
  minikube: (version: string) => `* Minikube detected (${version}), using linux kernel sources for minikube kernel`,
  localSources: (version: string) => `* Using downloaded kernel sources for kernel version ${version}...`,
  sourcesFailed: 'Unable to download the kernel sources',
  compiling: (file: string) => `* Trying to compile the eBPF probe (${file})`,
  located: (p: string) => `* eBPF probe located in ${p}`,
  symlinked: (link: string) => `* Success: eBPF probe symlinked to ${link}`,
  unableToLoad: (name: string) => `Unable to load the ${name} eBPF probe`,
  /** New (issue #4): driver 10.0.0+driver and later ship no legacy probe. */
  noLegacyProbe: (version: string) =>
    `Driver version ${version} ships no legacy eBPF probe (it was dropped in 10.0.0+driver): use 'falco-driver-loader modern_ebpf', or set DRIVER_VERSION to a 9.x or older driver`,
  rejected: (what: string, reason: string) => `* Rejected ${what}: ${reason}`,
  compileFailed: (code: string) => `* Compiling the eBPF probe failed (${code})`,
} as const;

/** Module signing and the signature-enforcement diagnosis (issue #10, legacy-loader.md §D.8). */
export const signNote = {
  using: (name: string, certFile: string, hash: string, tool: string) =>
    `* Signing modules before insmod with '${name}' (${certFile}, ${hash}) using ${tool}`,
  alreadySigned: (file: string, name: string) => `* ${file} is already signed by '${name}': not signed again`,
  replacing: (file: string, other: string, name: string) =>
    `* ${file} carries ${other}: replacing it with a signature by '${name}' (the kernel checks only one)`,
  signed: (file: string, name: string, hash: string, tool: string) =>
    `* Signed by '${name}' (${hash}, ${tool}): ${file}`,
  toolFallback: (problem: string) => `[WARNING] ${problem}: signing with the built-in signer instead`,
  notAModule: (file: string, why: string) => `Not signing ${file}: it is not usable (${why})`,
  failed: (file: string, reason: string) => `Signing ${file} failed: ${reason}`,
  cannotWrite: (dir: string, reason: string) => `Cannot write signed modules to ${dir}: ${reason}`,
  builtSignedBy: (what: string) => `* The dkms build carries ${what}`,
  builtUnsigned: '* The dkms build carries no signature',
  state: (e: {
    secureBoot: string;
    lockdown: string | undefined;
    sigEnforce: boolean | undefined;
    modulesDisabled: boolean;
  }) =>
    `* Module signature checks: Secure Boot ${e.secureBoot}, lockdown ${e.lockdown ?? 'not available'}, module.sig_enforce ${e.sigEnforce === undefined ? 'not available' : e.sigEnforce ? 'Y' : 'N'}${e.modulesDisabled ? ', modules_disabled 1' : ''}`,
  verdict: (disabled: boolean, refuses: boolean, secureBoot: string) =>
    disabled
      ? '  so this kernel loads no module at all until it reboots (modules_disabled is 1)'
      : refuses
        ? '  so this kernel refuses a module unless it is signed by a key it trusts (built in, or enrolled as a MOK)'
        : secureBoot === 'on'
          ? '  so unsigned modules still load (Secure Boot is on, but neither lockdown nor sig_enforce refuses them)'
          : '  so unsigned modules load',
  rejectedVerdict:
    "  and insmod says this kernel refused the module's signature (it has none, or one by a key the kernel does not trust)",
  whatWorks: '  What will work:',
  signAdvice: (signing: { certFile: string; name: string } | undefined) =>
    signing === undefined
      ? '  - sign with an enrolled key: make a key pair, enroll the certificate with mokutil --import <cert> (then reboot), run with --sign-key <key> --sign-cert <cert>'
      : `  - sign with an enrolled key: modules are signed with '${signing.name}'; it must be enrolled (mokutil --test-key ${signing.certFile}; else mokutil --import ${signing.certFile} and reboot)`,
  enrollOwn: (certFile: string, name: string) =>
    `  - the module was signed with '${name}', but the kernel does not trust that key: enroll it with mokutil --import ${certFile} and reboot (mokutil --test-key ${certFile} tells whether it is)`,
  dkmsAdvice: (d: DkmsMok) => `  - DKMS with MOK signing: ${signNote.dkmsStatus(d)}`,
  dkmsStatus: (d: DkmsMok): string => {
    if (!d.installed)
      return 'dkms is not installed (dkms 3.0.4 and later sign their builds with /var/lib/dkms/mok.key)';
    if (!d.signs) return `dkms ${d.version ?? '(version unknown)'} does not sign its builds (3.0.4 and later do)`;
    const key =
      d.cert !== undefined ? ` ('${d.cert.name}')` : d.keyPresent ? '' : ' (it creates the key on its first build)';
    const same = d.sameAsSigningCert ? '; that is the --sign-cert certificate, so its builds are not signed again' : '';
    return `dkms ${d.version} signs its builds with /var/lib/dkms/mok.key${key}; enroll it with mokutil --import /var/lib/dkms/mok.pub and reboot${same}`;
  },
  modernAdvice: (problem: string | undefined) =>
    problem === undefined
      ? '  - modern_ebpf: needs no module, and this kernel can run it (falco-driver-loader modern_ebpf)'
      : `  - modern_ebpf: needs no module, but cannot work here: ${problem}`,
} as const;

/** Flatcar kernel-tool relocation (legacy-loader.md §B.6.4 step 3, §B.7 step 4), verbatim from the 0.36 script. */
export const flatcarMsg = {
  detected: (versionId: string) => `* Flatcar detected (version ${versionId}); relocating kernel tools`,
  foundInterpreter: (ld: string) => `** Found host dl interpreter: ${ld}`,
  /** Legacy printed the tool's full path under /lib/modules/<release>/build. */
  settingInterpreter: (tool: string) => `** Setting host dl interpreter for ${tool}`,
} as const;

/** Flatcar lines the legacy script did not have: every step that can fail says so and the build goes on. */
export const flatcarNote = {
  hostIsRoot: (pattern: string) =>
    `** HOST_ROOT is unset: the kernel tools already use this system's dl interpreter (${pattern}), nothing to relocate`,
  noInterpreter: (pattern: string) =>
    `** No host dl interpreter matches ${pattern}: kernel tools not relocated, the build may fail to run them`,
  noBuildDir: (release: string) =>
    `** No /lib/modules/${release}/build (nor a single other kernel under /lib/modules): kernel tools not relocated`,
  missingProgram: (program: string) =>
    `** ${program} not found on PATH: kernel tools not relocated, the build may fail to run them (install ${program})`,
  tmpdirUnusable: (tmpdir: string, reason: string) =>
    `** TMPDIR ${tmpdir} cannot be used (${reason}): kernel tools not relocated`,
  missingTool: (tool: string) => `** ${tool} not found: not relocated`,
  copyFailed: (tool: string, reason: string) => `** Cannot copy ${tool} (${reason}): not relocated`,
  patchelfFailed: (tool: string, reason: string) => `** patchelf failed for ${tool} (${reason}): not relocated`,
  mountFailed: (tool: string, reason: string) =>
    `** Cannot bind-mount the relocated copy over ${tool} (${reason}): the build uses the original`,
  umountFailed: (tool: string, reason: string, copies: string) =>
    `** Cannot unmount the relocated ${tool} (${reason}): it stays bound to a copy in ${copies}; run umount ${tool}`,
} as const;

/** SHA256SUMS beside the driver files (issue 19): reasons for "Download failed: …", and the log lines. */
export const checksumMsg = {
  verified: (sumsUrl: string) => `* SHA256 checksum verified against ${sumsUrl}`,
  mismatch: (file: string, actual: string, expected: string, sumsUrl: string) =>
    `SHA256 mismatch for ${file}: got ${actual}, ${sumsUrl} says ${expected}; not kept, trying the next source`,
  noEntry: (file: string) => `it has no line for ${file}`,
  required: (sumsUrl: string, why: string) =>
    `no checksum for this file at ${sumsUrl} (${why}) and FALCO_DRIVER_LOADER_REQUIRE_CHECKSUM requires one; not kept`,
  notVerified: (sumsUrl: string, why: string) =>
    `* Could not read ${sumsUrl} (${why}): the download is not checksum-verified`,
} as const;

/** Kernel-source verification before the eBPF build unpacks and runs them as root (issue #13). */
export const sourcesMsg = {
  signedBy: (url: string, fingerprint: string) => `* Verified ${url} (signed by key ${fingerprint})`,
  mirrorList: (url: string) => `* Using the mirror's checksum list ${url}`,
  unverified: (file: string, variable: string) =>
    `[WARNING] ${variable} is set: ${file} will be unpacked and built as root WITHOUT any integrity check (insecure)`,
  badSignature: (url: string, reason: string, variable: string) =>
    `Refusing the kernel sources: ${url} does not verify (${reason}); use an https kernel.org mirror, or set ${variable}=yes to build from unverified sources (insecure)`,
  cannotVerify: (file: string, why: string, variable: string) =>
    `Refusing the kernel sources: nothing can verify ${file} (${why}); serve a signed sha256sums.asc (or, from an https/file FALCO_DRIVER_LOADER_KERNEL_MIRROR, a sha256sums.txt), or set ${variable}=yes to build from unverified sources (insecure)`,
  badList: (url: string, file: string) => `Refusing the kernel sources: ${url} lists no SHA-256 for ${file}`,
  badKeys: (variable: string, file: string, reason: string) =>
    `${variable}=${file} cannot be used as the kernel-source signing keys: ${reason}`,
  mismatch: (file: string, actual: string, expected: string) =>
    `Refusing ${file}: its SHA-256 is ${actual}, not ${expected} as the checksum list says`,
} as const;

import { BUILD_DEFAULTS, PRODUCT_VERSION } from '../defaults.js';

/**
 * The usage text. The 0.36 script's text had backticks inside double quotes on the --source-only line, so printing
 * it ran the loader (legacy-loader.md §B.12.1); here it is a literal string and printing it does nothing else.
 */
export function usage(): string {
  const d = BUILD_DEFAULTS;
  return `Usage:
  falco-driver-loader [driver] [options]
  falco-driver-loader mirror --plans <file|-> --out <dir> [options]   (see: mirror --help)

Available drivers:
  module, kmod   kernel module (default)
  bpf, ebpf      eBPF probe (driver versions up to 9.x)
  modern_ebpf    modern eBPF probe, built into Falco: only checks that this kernel can run it
  auto           pick modern_ebpf when the kernel supports it, else the kernel module

Options:
  -h, --help           show this help and exit; nothing else is done
  --version            print the version of falco-driver-loader and its built-in defaults
  --clean              try to remove an already present driver installation
  --compile            try to compile the driver locally (default true)
  --download           try to download a prebuilt driver (default true)
                       (naming only one of --compile/--download turns the other off)
  --print-env          skip execution and print env variables for other tools to consume
                       (eval "$(falco-driver-loader --print-env)" imports them into a shell)
  --source-only        kept for old callers: an executable cannot be sourced with \`. falco-driver-loader\`;
                       prints a hint to use --print-env and exits 0
  --dry-run            print what was detected and what a real run would do, change nothing (no root needed)
  --check              with --dry-run: ask every candidate URL whether the driver is there
  --json               with --dry-run: print one JSON document (schema in the README) and nothing else on stdout
  --require-checksum   refuse a download unless a SHA256SUMS beside it vouches for it
  --kernel-release <v> kernel release to download/build for, as 'uname -r' prints it (e.g. '6.1.0-10-cloud-amd64')
  --kernel-version <v> kernel version to download/build for, as 'uname -v' prints it
                       (e.g. '#1 SMP PREEMPT_DYNAMIC Debian 6.1.38-2 (2023-07-27)')
  --http-insecure      do not verify HTTPS certificates when downloading (same as DRIVER_INSECURE_DOWNLOAD)
  --http-headers <h>   extra HTTP headers for downloads, comma separated: 'Name: value,Other: value'
  --falcoctl <policy>  hand the job to falcoctl when it is installed: auto (default: when falcoctl can do exactly
                       what was asked), never, or always (fail when it cannot)
  --sign-key <file>    sign every module before insmod with this private key (PEM or DER; refused when group or
                       others may read it) into a copy in the cache; for Secure Boot / lockdown / sig_enforce hosts
  --sign-cert <file>   the X.509 certificate (PEM or DER) of --sign-key, enrolled with mokutil --import
  --sign-hash <algo>   signature hash: sha256 (default), sha384, sha512 or sha224
  --sign-tool <tool>   auto (default: the kernel's scripts/sign-file, else kmodsign, else built in), sign-file,
                       kmodsign or builtin

Environment variables:
  DRIVERS_REPO             URL(s) where to look for prebuilt Falco drivers, separated by commas or spaces
                           (default ${d.driversRepo}; FALCOCTL_DRIVER_REPOS is read when unset)
  DRIVER_NAME              a different name for the driver (default ${d.driverName}; FALCOCTL_DRIVER_NAME when unset)
  DRIVER_VERSION           the driver version (default: falco --version, else /usr/src/<name>-<version>, else ${d.driverVersion};
                           FALCOCTL_DRIVER_VERSION when unset)
  FALCO_VERSION            the Falco version shown in messages (default: falco --version, else ${d.falcoVersion})
  DRIVER_INSECURE_DOWNLOAD any non-empty value allows insecure (unverified HTTPS) downloads
  DRIVER_CURL_OPTIONS      additional curl-style options for downloads (parsed, never run by a shell)
  FALCOCTL_DRIVER_HTTP_HEADERS  extra HTTP headers when --http-headers is not given
  DRIVER_KERNEL_RELEASE    kernel release to download/build for, as 'uname -r' prints it
  DRIVER_KERNEL_VERSION    kernel version to download/build for, as 'uname -v' prints it
  FALCO_BPF_PROBE          when set, even empty, the default driver is bpf
  HOST_ROOT                prefix where the host's root filesystem is mounted (e.g. /host in a container)
  HOME                     drivers are cached under $HOME/.falco
  TMPDIR                   where temporary build files go (default /tmp)
  BPF_USE_LOCAL_KERNEL_SOURCES  non-empty: build the eBPF probe against downloaded vanilla kernel sources
  DRIVER_SIGN_KEY          private key to sign modules with when --sign-key is not given
  DRIVER_SIGN_CERT         its certificate when --sign-cert is not given
  DRIVER_SIGN_HASH         signature hash when --sign-hash is not given (default sha256)
  DRIVER_SIGN_TOOL         signing program when --sign-tool is not given (default auto)
  KBUILD_SIGN_PIN          passphrase of an encrypted signing key (as for the kernel's sign-file)
  FALCO_DRIVER_LOADER_REQUIRE_CHECKSUM     non-empty: like --require-checksum
  FALCO_DRIVER_LOADER_MAX_DOWNLOAD_BYTES   largest download accepted, in bytes (default 512 MiB)
  FALCO_DRIVER_LOADER_LOCK_TIMEOUT_SECONDS how long to wait for another run's lock (default 120)
  FALCO_DRIVER_LOADER_RMMOD_WAIT_SECONDS   wait between rmmod attempts in the cleaning phase (default 5)
  FALCO_DRIVER_LOADER_KERNEL_MIRROR        kernel.org mirror for eBPF kernel sources (default https://mirrors.edge.kernel.org/pub/linux/kernel)
  FALCO_DRIVER_LOADER_KERNEL_KEYS          OpenPGP key file that signs the mirror's sha256sums.asc (default: kernel.org's autosigner)
  FALCO_DRIVER_LOADER_INSECURE_KERNEL_SOURCES  non-empty: build from kernel sources without verifying them (insecure)
  FALCO_DRIVER_LOADER_COS_TOOLS_URL        where COS kernel headers come from (default https://storage.googleapis.com/cos-tools)
  FALCO_DRIVER_LOADER_FALCOCTL  the falcoctl hand-off policy when --falcoctl is not given (auto, never, always)
  FALCO_DRIVER_LOADER_SYSROOT   (testing) resolve /proc, /sys, /lib/modules, /usr/src, /var/lib/dkms, /boot under this

Versions:
  falco-driver-loader ${PRODUCT_VERSION}
  Falco version       ${d.falcoVersion} (built-in default)
  Driver version      ${d.driverVersion} (built-in default)
`;
}

import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FakeBin } from '../helpers/fakeBin.js';
import { fakePlatform, type Outcome, runMain } from '../helpers/run.js';
import { tempDir, writeTree } from '../helpers/tmp.js';

/**
 * A simulated kernel for the module flow: FALCO_DRIVER_LOADER_SYSROOT points at a temp dir whose /proc/modules and
 * /sys/module/<name> the fake programs keep up to date, and PATH holds only the fakes plus a handful of coreutils
 * (no real insmod/rmmod/modprobe/dkms/chcon/gcc/make can ever be reached from the code under test).
 */

/** The coreutils the fake scripts use, and nothing else. */
const TOOLS = ['sh', 'cat', 'mkdir', 'rm', 'mv', 'cp', 'grep', 'head', 'cut', 'tr', 'sleep', 'env', 'chmod', 'ls'];

const FAKES: Record<string, string> = {
  lsmod: `echo "Module                  Size  Used by"
[ -f "$SR/proc/modules" ] || exit 0
while read -r n size used rest; do printf '%-24s%s  %s\\n' "$n" "$size" "$used"; done < "$SR/proc/modules"`,
  rmmod: `left=$(cat "$SR/fake/rmmod-failures" 2>/dev/null || echo 0)
if [ "$left" -gt 0 ]; then
  echo $((left - 1)) > "$SR/fake/rmmod-failures"
  echo "rmmod: ERROR: Module $1 is in use" >&2
  exit 1
fi
grep -v "^$1 " "$SR/proc/modules" > "$SR/proc/modules.new"; mv "$SR/proc/modules.new" "$SR/proc/modules"
rm -rf "$SR/sys/module/$1"`,
  insmod: `name="\${FAKE_KMOD_NAME:-falco}"
if grep -q "^$name " "$SR/proc/modules" 2>/dev/null; then
  echo "insmod: ERROR: could not insert module $1: File exists" >&2; exit 1
fi
if [ -n "$FAKE_INSMOD_ERROR" ] || grep -q FAKE_INSMOD_REJECT "$1"; then
  echo "insmod: ERROR: could not insert module $1: \${FAKE_INSMOD_ERROR:-Invalid module format}" >&2; exit 1
fi
ver="\${FAKE_MODULE_VERSION:-$(tr '\\000' '\\n' < "$1" | grep '^version=' | head -n 1 | cut -d= -f2-)}"
mkdir -p "$SR/sys/module/$name" "$SR/proc"
printf '%s\\n' "$ver" > "$SR/sys/module/$name/version"
printf '%s 16384 0 - Live 0x0000000000000000\\n' "$name" >> "$SR/proc/modules"`,
  modprobe: `if [ -z "$FAKE_MODPROBE_VERSION" ]; then echo "modprobe: FATAL: Module $1 not found" >&2; exit 1; fi
mkdir -p "$SR/sys/module/$1" "$SR/proc"
printf '%s\\n' "$FAKE_MODPROBE_VERSION" > "$SR/sys/module/$1/version"
printf '%s 16384 0 - Live 0x0\\n' "$1" >> "$SR/proc/modules"`,
  chcon: `echo "chcon: failed to change context of '$3': Operation not supported" >&2; exit 1`,
  dkms: `cmd="$1"; shift
case "$cmd" in
status) cat "$SR/fake/dkms-status" 2>/dev/null; exit 0 ;;
remove)
  echo "Deleting module $2-$4 completely from the DKMS tree."
  [ -z "$FAKE_DKMS_REMOVE_FAIL" ] || { echo "Error! There is no instance of $2 $4" >&2; exit 3; }
  exit 0 ;;
install)
  w="\${1#--directive=MAKE=}"; w="\${w#\\'}"; w="\${w%\\'}"; shift
  while [ $# -gt 0 ]; do case "$1" in -m) m="$2"; shift 2 ;; -v) v="$2"; shift 2 ;; -k) k="$2"; shift 2 ;; *) shift ;; esac; done
  echo "DIRECTIVE: MAKE=\\"'$w'\\""
  cat "$w" > "$SR/fake/last-wrapper"
  [ -z "$FAKE_DKMS_NO_SOURCE" ] || { echo "Error! Could not find module source directory." >&2; exit 1; }
  b="$SR/var/lib/dkms/$m/$v/build"; mkdir -p "$b"
  if "$w" -C "/lib/modules/$k/build" > "$b/make.log" 2>&1; then
    rm -rf "$b"; d="$SR/var/lib/dkms/$m/$v/$k/x86_64/module"; mkdir -p "$d"
    [ -n "$FAKE_DKMS_NO_MODULE" ] || cp "$FAKE_DKMS_MODULE" "$d/$m.ko\${FAKE_DKMS_SUFFIX}"
    echo "DKMS: install completed."; exit 0
  fi
  [ -z "$FAKE_DKMS_NO_MAKELOG" ] || rm -f "$b/make.log"
  echo "Error! Bad return status for module build on kernel: $k (x86_64)" >&2; exit 10 ;;
esac
exit 2`,
  make: `cc="\${1#CC=}"
case "$cc" in *"$FAKE_MAKE_OK_CC") echo "  CC [M]  main.o ($cc)"; exit 0 ;; esac
echo "main.c:1: error: $cc cannot build this kernel"; exit 2`,
  gcc: gccFake(12),
  'gcc-11': gccFake(11),
  'gcc-12': gccFake(12),
  'gcc-ar': 'echo "gcc-ar: no operation specified" >&2; exit 1',
};

function gccFake(major: number): string {
  return `[ "$1" = -print-search-dirs ] || exit 1
printf 'install: /usr/lib/gcc/x86_64-linux-gnu/${major}/\\nprograms: =/usr/lib/gcc/x86_64-linux-gnu/${major}/\\n'`;
}

export const DEBIAN_OS_RELEASE = 'ID=debian\nVERSION_ID="12"\n';
export const CENTOS_OS_RELEASE = 'ID="centos"\nVERSION_ID="9"\n';

export interface KernelOptions {
  /** os-release under HOST_ROOT (default: CentOS, whose target keeps the release unchanged). */
  readonly osRelease?: string;
  readonly release?: string;
  readonly version?: string;
  /** Fake programs to leave out (to test "program not found"). */
  readonly without?: readonly string[];
}

export class FakeKernel {
  readonly bin = new FakeBin();
  readonly sysroot = tempDir('fdl-sys-');
  readonly home = tempDir('fdl-home-');
  readonly hostRoot = tempDir('fdl-host-');
  readonly tmp = tempDir('fdl-tmp-');
  readonly release: string;
  readonly version: string;
  readonly driverVersion = '6.0.1+driver';

  constructor(options: KernelOptions = {}) {
    this.release = options.release ?? '6.1.0-13-amd64';
    this.version = options.version ?? '#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)';
    writeTree(this.hostRoot, { 'etc/os-release': options.osRelease ?? CENTOS_OS_RELEASE });
    mkdirSync(path.join(this.sysroot, 'proc'), { recursive: true });
    mkdirSync(path.join(this.sysroot, 'fake'), { recursive: true });
    writeFileSync(path.join(this.sysroot, 'proc/modules'), '');
    for (const [name, body] of Object.entries(FAKES)) {
      if (!options.without?.includes(name)) this.bin.add(name, `SR="$FALCO_DRIVER_LOADER_SYSROOT"\n${body}`);
    }
    const tools = path.join(this.bin.dir, 'tools');
    mkdirSync(tools);
    for (const tool of TOOLS) symlinkSync(`/usr/bin/${tool}`, path.join(tools, tool));
  }

  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return {
      PATH: `${this.bin.dir}:${path.join(this.bin.dir, 'tools')}`,
      HOME: this.home,
      TMPDIR: this.tmp,
      HOST_ROOT: this.hostRoot,
      FALCO_DRIVER_LOADER_SYSROOT: this.sysroot,
      DRIVER_KERNEL_RELEASE: this.release,
      DRIVER_KERNEL_VERSION: this.version,
      DRIVER_VERSION: this.driverVersion,
      FALCO_VERSION: '0.36.2',
      DRIVERS_REPO: 'http://127.0.0.1:9/unused',
      FALCO_DRIVER_LOADER_RMMOD_WAIT_SECONDS: '0',
      ...extra,
    };
  }

  run(argv: string[], extra: NodeJS.ProcessEnv = {}): Promise<Outcome> {
    return runMain(argv, this.env(extra), fakePlatform({ kernelRelease: this.release, kernelVersion: this.version }));
  }

  /** Puts a module in the kernel as if it had been loaded before the run. */
  preload(name: string, version = 'old'): void {
    writeTree(this.sysroot, { [`sys/module/${name}/version`]: `${version}\n` });
    writeFileSync(path.join(this.sysroot, 'proc/modules'), `${name} 16384 0 - Live 0x0\n`, { flag: 'a' });
  }

  loaded(): string[] {
    return readFileSync(path.join(this.sysroot, 'proc/modules'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ')[0] ?? '');
  }

  loadedVersion(name = 'falco'): string | undefined {
    const file = path.join(this.sysroot, 'sys/module', name, 'version');
    return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
  }

  /** Program invocations, as "<name> <args…>", without the gcc probes. */
  calls(): string[] {
    return this.bin.calls();
  }

  callsOf(program: string): string[] {
    return this.calls().filter((c) => c === program || c.startsWith(`${program} `));
  }

  write(rel: string, content: string | Buffer): string {
    const file = path.join(this.sysroot, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
    return file;
  }

  /** `$HOME/.falco/<driver version>/<arch>/<file>` for the current target. */
  cachePath(fileName: string): string {
    return path.join(this.home, '.falco', this.driverVersion, 'x86_64', fileName);
  }

  headers(release = this.release): void {
    mkdirSync(path.join(this.sysroot, 'lib/modules', release, 'build'), { recursive: true });
  }
}

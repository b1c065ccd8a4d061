#!/usr/bin/env bash
# Release packaging check, for CI (.ci/run calls it) and by hand (npm run check:packages). Runs as root on a clean
# Debian/Ubuntu machine: installs the apt packages it needs, builds the x86_64 single executable, .deb and .rpm (and
# the aarch64 executable when a strip tool for it is available) and the container image, then checks them. One line per check:
#   PASS <check> | FAIL <check> (followed by the reason, indented) | SKIP <check>: <why>
# and a summary line; exits 1 when any check failed.
#
# It never installs anything into this machine's root filesystem except apt packages: the .deb is unpacked with
# dpkg -x, and installed only into throw-away roots that have their own dpkg/rpm databases (dpkg --root with
# --force-script-chrootless, whose maintainer scripts get DPKG_ROOT; rpm --root). Everything lives in one temp dir.
#
# Environment: PKG_XZ_LEVEL (default 0 here: 5x faster than the release's 6, same content), PKG_DIST (build there
# instead of dist/, e.g. when something else may rebuild dist/ meanwhile), FDL_CI_SKIP_APT=1 (do not call apt-get).
# The container image is built with podman and run as the falco Helm chart runs it (packaging/image-check.sh).
set -uo pipefail
export PKG_XZ_LEVEL=${PKG_XZ_LEVEL:-0}
# shellcheck source=packaging/lib.sh
. "$(dirname -- "$0")/lib.sh"
cd "$PKG_ROOT" || exit 1

T0=$(date +%s)
PASSED=0 FAILED=0 SKIPPED=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fdl-ci.XXXXXX")
chmod 0755 "$WORK" # apt-get download drops privileges to _apt and must be able to write here
trap 'rm -rf -- "$WORK"' EXIT
IS_ROOT=no
[ "$(id -u)" = 0 ] && IS_ROOT=yes

pass() { PASSED=$((PASSED + 1)); echo "PASS $1"; }
skip() { SKIPPED=$((SKIPPED + 1)); echo "SKIP $1: $2"; }
fail() {
  FAILED=$((FAILED + 1))
  echo "FAIL $1"
  if [ -n "${2:-}" ]; then printf '%s\n' "$2" | tail -n 40 | sed 's/^/     /'; fi
}
# check "<name>" <command...>: PASS when the command succeeds, else FAIL with its output.
check() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "$out"; fi
}
# Assertion helpers for check functions: print why and return 1.
want_eq() { [ "$1" = "$2" ] || { printf '%s\n  expected: %s\n  actual:   %s\n' "$3" "$2" "$1"; return 1; }; }
# Here-strings, not printf | grep -q: with pipefail, grep -q leaving at its first match can make printf's next write
# die of SIGPIPE, and a check that found its line failed (seen under load).
want_line() { grep -qxF -- "$2" <<<"$1" || { printf '%s: no line "%s" in:\n%s\n' "$3" "$2" "$1"; return 1; }; }
want_grep() { grep -qE -- "$2" <<<"$1" || { printf '%s: nothing matches /%s/ in:\n%s\n' "$3" "$2" "$1"; return 1; }; }
sha() { sha256sum -- "$1" | cut -d' ' -f1; }
json_field() { node -p 'require(process.argv[1])[process.argv[2]]' "$PWD/$1" "$2"; }

V=$PKG_VERSION
EXE=$(pkg_exe x86_64)
EXE_ARM=$(pkg_exe aarch64)
DEB=$(pkg_deb_file x86_64)
RPM=$(pkg_rpm_file x86_64)
DEFAULTS=src/defaults.json
echo "ci-check: falco-driver-loader $V, xz -$PKG_XZ_LEVEL, root: $IS_ROOT, work dir $WORK"

# ---------------------------------------------------------------------------------------------------------- setup
APT_UPDATED=no
apt_install() { # apt_install <package>...: installs the missing ones; returns 1 if any is still missing
  local missing=() p
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "${FDL_CI_SKIP_APT:-}" = 1 ] || [ "$IS_ROOT" != yes ] || ! command -v apt-get >/dev/null; then return 1; fi
  if [ "$APT_UPDATED" = no ]; then
    APT_UPDATED=yes
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || echo "ci-check: apt-get update failed (no network?)"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1
}
t=$(date +%s)
# Required: rpmbuild, rpm2cpio + cpio (rpm payload), binutils (strip, readelf), xz.
if apt_install rpm cpio binutils xz-utils; then pass "setup: apt packages rpm cpio binutils xz-utils"
else fail "setup: apt packages rpm cpio binutils xz-utils" "could not install them (no network or not root)"; fi
# Optional, each skipped visibly when apt cannot provide it.
for p in qemu-user-static binutils-aarch64-linux-gnu lintian; do
  apt_install "$p" || echo "ci-check: optional apt package $p is not available; the checks that need it are skipped"
done
echo "ci-check: setup took $(($(date +%s) - t)) s"

if [ ! -x node_modules/.bin/esbuild ] || [ ! -f node_modules/postject/package.json ]; then
  check "setup: npm ci" npm ci --no-audit --no-fund
fi

# ---------------------------------------------------------------------------------------------------------- build
timed() { # timed "<name>" <command...>: like check, and shows the command's output and time
  local name=$1 out t=$(date +%s)
  shift
  if out=$("$@" 2>&1); then
    pass "$name ($(($(date +%s) - t)) s)"
    printf '%s\n' "$out" | sed 's/^/     /'
  else
    fail "$name" "$out"
  fi
}
timed "build: single executable x86_64 (node packaging/build-sea.mjs --arch x86_64)" node packaging/build-sea.mjs --arch x86_64
timed "build: .deb x86_64 (packaging/build-deb.sh x86_64)" packaging/build-deb.sh x86_64
timed "build: .rpm x86_64 (packaging/build-rpm.sh x86_64)" packaging/build-rpm.sh x86_64
ARM_BUILT=no
if command -v aarch64-linux-gnu-strip >/dev/null || compgen -c llvm-strip | grep -q .; then
  rm -f "$EXE_ARM"
  timed "build: single executable aarch64 (node packaging/build-sea.mjs --arch aarch64)" node packaging/build-sea.mjs --arch aarch64
  [ -x "$EXE_ARM" ] && ARM_BUILT=yes
else
  skip "build: single executable aarch64" "no strip for aarch64 (apt-get install binutils-aarch64-linux-gnu)"
fi

# ---------------------------------------------------------------------------------------------- single executable
FAKE_HOST=$WORK/host # an Ubuntu AWS host, the example recorded from the 0.36 script (legacy-loader.md §A.6)
mkdir -p "$FAKE_HOST/etc" "$WORK/sysroot"
printf 'NAME="Ubuntu"\nID=ubuntu\nVERSION_ID="22.04"\n' >"$FAKE_HOST/etc/os-release"
KREL=5.15.0-1009-aws
KVER='#26~22.04.1-Ubuntu SMP Thu Jan 1 00:00:00 UTC 2023'
expect_print_env() { # expect_print_env <output> <arch>
  local d
  want_line "$1" "ARCH=\"$2\"" "--print-env" &&
    want_line "$1" 'TARGET_ID="ubuntu-aws"' "--print-env" &&
    want_line "$1" "KERNEL_RELEASE=\"$KREL\"" "--print-env" &&
    want_line "$1" 'KERNEL_VERSION="26~22.04.1"' "--print-env" &&
    d=$(json_field "$DEFAULTS" driverVersion) && want_line "$1" "DRIVER_VERSION=\"$d\"" "--print-env (src/defaults.json)" &&
    d=$(json_field "$DEFAULTS" falcoVersion) && want_line "$1" "FALCO_VERSION=\"$d\"" "--print-env (src/defaults.json)" &&
    d=$(json_field "$DEFAULTS" driversRepo) && want_line "$1" "DRIVERS_REPO=\"$d\"" "--print-env (src/defaults.json)" &&
    d=$(json_field "$DEFAULTS" driverName) && want_line "$1" "DRIVER_NAME=\"$d\"" "--print-env (src/defaults.json)"
}

sea_version() {
  local out
  out=$(env -i PATH=/usr/bin:/bin "$EXE" --version 2>&1) || { echo "exit $?: $out"; return 1; }
  want_eq "$(printf '%s\n' "$out" | head -n1)" "falco-driver-loader $V" "first line of --version" &&
    want_grep "$out" "driver version $(json_field "$DEFAULTS" driverVersion | sed 's/[+.]/\\&/g')," "--version shows src/defaults.json"
}
check "sea: --version (env -i PATH=/usr/bin:/bin) shows the version and src/defaults.json" sea_version

sea_help() {
  local out err
  out=$(env -i PATH=/usr/bin:/bin "$EXE" --help 2>"$WORK/help.err") || { echo "exit $?"; return 1; }
  err=$(cat "$WORK/help.err")
  want_eq "$err" "" "stderr of --help (an SEA ExperimentalWarning would show here)" &&
    want_eq "$out" "$(node "$PKG_DIST/sea/falco-driver-loader.cjs" --help)" "--help of the executable vs. the bundle"
}
check "sea: --help equals the bundle's, nothing on stderr (no SEA warning)" sea_help

sea_print_env() {
  local out
  out=$(env -i PATH=/usr/bin:/bin HOST_ROOT="$FAKE_HOST" FALCO_DRIVER_LOADER_SYSROOT="$WORK/sysroot" \
    DRIVER_KERNEL_RELEASE="$KREL" DRIVER_KERNEL_VERSION="$KVER" "$EXE" --print-env 2>&1) || { echo "exit $?: $out"; return 1; }
  expect_print_env "$out" x86_64
}
check "sea: --print-env against a fake host root (env -i PATH=/usr/bin:/bin)" sea_print_env

sea_no_node() {
  # A root holding only the executable and the libraries ldd names: no node, no shell, no /proc, no /etc/passwd.
  local root=$WORK/chroot lib out
  mkdir -p "$root/usr/bin" "$root/host/etc"
  cp "$EXE" "$root/usr/bin/falco-driver-loader"
  for lib in $(ldd "$EXE" | grep -o '/[^ ]*'); do cp -L --parents "$lib" "$root"; done
  cp "$FAKE_HOST/etc/os-release" "$root/host/etc/"
  if find "$root" -name 'node*' | grep -q .; then echo "the chroot has node in it"; return 1; fi
  out=$(env -i PATH=/usr/bin:/bin /usr/sbin/chroot "$root" /usr/bin/falco-driver-loader --version 2>&1) || { echo "--version: $out"; return 1; }
  # HOME: os.homedir() throws without HOME and without a passwd entry (reported; the callers all set HOME).
  out=$(env -i PATH=/usr/bin:/bin HOME=/root HOST_ROOT=/host DRIVER_KERNEL_RELEASE="$KREL" DRIVER_KERNEL_VERSION="$KVER" \
    /usr/sbin/chroot "$root" /usr/bin/falco-driver-loader --print-env 2>&1) || { echo "--print-env exit $?: $out"; return 1; }
  expect_print_env "$out" x86_64
}
if [ "$IS_ROOT" = yes ]; then
  check "sea: runs in a chroot with no node anywhere (--version, --print-env)" sea_no_node
else
  skip "sea: runs in a chroot with no node anywhere" "needs root for chroot"
fi

sea_lazy_http() {
  # undici is import()ed lazily by the download step; --dry-run --check asks a local server (404 for everything).
  local port_file=$WORK/http.port pid out i
  node -e 'const s = require("node:http").createServer((q, r) => { r.statusCode = 404; r.end(); });
    s.listen(0, "127.0.0.1", () => require("node:fs").writeFileSync(process.argv[1], String(s.address().port)));
    setTimeout(() => process.exit(0), 30000);' "$port_file" &
  pid=$!
  for i in $(seq 50); do [ -s "$port_file" ] && break; sleep 0.1; done
  out=$(env -i PATH=/usr/bin:/bin HOME="$WORK" HOST_ROOT="$FAKE_HOST" FALCO_DRIVER_LOADER_SYSROOT="$WORK/sysroot" \
    DRIVER_KERNEL_RELEASE="$KREL" DRIVER_KERNEL_VERSION="$KVER" DRIVERS_REPO="http://127.0.0.1:$(cat "$port_file")" \
    "$EXE" --dry-run --check 2>&1)
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  want_grep "$out" "falco_ubuntu-aws_${KREL}_26~22\\.04\\.1\\.ko +-> not found \\(HTTP 404\\)" "--dry-run --check"
}
check "sea: lazily loaded HTTP client works inside the executable (--dry-run --check against a local server)" sea_lazy_http

sea_layout() {
  local fuse=NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2
  want_eq "$(grep -a -c "$fuse:1" "$EXE")" 1 "SEA fuse flipped by postject" &&
    want_eq "$(readelf -SW "$EXE" | grep -c '\.symtab')" 0 "runtime stripped before injection (.symtab sections)" &&
    want_grep "$(readelf -lW "$EXE")" 'NOTE' "program headers (the blob is a PT_NOTE)"
}
check "sea: blob injected into a stripped runtime" sea_layout

sea_startup() {
  local i t best=999999
  for i in 1 2 3 4 5; do
    t=$(date +%s%N)
    env -i PATH=/usr/bin:/bin "$EXE" --help >/dev/null || return 1
    t=$((($(date +%s%N) - t) / 1000000))
    [ "$t" -lt "$best" ] && best=$t
  done
  echo "$best"
  [ "$best" -lt 1000 ]
}
if ms=$(sea_startup); then pass "sea: --help starts in ${ms} ms (best of 5, budget 1000 ms), $(du -m "$EXE" | cut -f1) MB"
else fail "sea: --help start-up within 1000 ms" "$ms"; fi

# ------------------------------------------------------------------------------------------------------------ deb
deb_control() {
  local info ctl
  info=$(dpkg-deb -I "$DEB") || return 1
  ctl=$(dpkg-deb -f "$DEB")
  want_line "$ctl" "Package: falco-driver-loader" "control" &&
    want_line "$ctl" "Version: $PKG_PKGVERSION-$PKG_RELEASE" "control" &&
    want_line "$ctl" "Architecture: amd64" "control" &&
    want_grep "$ctl" '^Depends: .*libc6 \(>= 2\.28\)' "control" &&
    want_grep "$ctl" '^Depends: .*\bkmod\b' "control" &&
    want_grep "$ctl" '^Recommends: .*\bdkms\b' "control" &&
    want_grep "$info" ' preinst +#!/bin/sh' "control members" &&
    want_grep "$info" ' postrm +#!/bin/sh' "control members" &&
    { ! grep -qE ' (postinst|prerm|config|triggers) ' <<<"$info" || { echo "a post-install action exists: $info"; return 1; }; }
}
check "deb: control (dpkg-deb -I): name, version, amd64, Depends libc6 (>= 2.28) + kmod, Recommends dkms, no postinst" deb_control

EXPECTED_FILES="/usr/bin/falco-driver-loader
/usr/share/bash-completion/completions/falco-driver-loader
/usr/share/man/man8/falco-driver-loader.8.gz"
deb_files() {
  local list files
  list=$(dpkg-deb -c "$DEB") || return 1
  files=$(printf '%s\n' "$list" | grep -v '^d' | awk '{print $6}' | sed 's|^\.||' | grep -v '^/usr/share/doc/\|^/usr/share/lintian/' | sort)
  want_eq "$files" "$EXPECTED_FILES" "payload files (besides doc and lintian overrides)" &&
    want_grep "$list" '^-rwxr-xr-x root/root +[0-9]+ .* \./usr/bin/falco-driver-loader$' "executable mode/owner" &&
    want_grep "$list" '\./usr/share/doc/falco-driver-loader/copyright$' "copyright"
}
check "deb: files (dpkg-deb -c): /usr/bin/falco-driver-loader 0755 root, man page, bash completion, copyright" deb_files

deb_unpacked() {
  local root=$WORK/deb-x out
  dpkg -x "$DEB" "$root" || return 1
  want_eq "$(sha "$root/usr/bin/falco-driver-loader")" "$(sha "$EXE")" "installed binary vs. built executable (never stripped after injection)" || return 1
  out=$(env -i PATH=/usr/bin:/bin "$root/usr/bin/falco-driver-loader" --version 2>&1) || { echo "$out"; return 1; }
  want_eq "$(printf '%s\n' "$out" | head -n1)" "falco-driver-loader $V" "--version of the installed binary" || return 1
  want_grep "$(zcat "$root/usr/share/man/man8/falco-driver-loader.8.gz")" '^\.TH FALCO\\-DRIVER\\-LOADER 8 ' "man page header" || return 1
  if command -v man >/dev/null; then
    out=$(MANWIDTH=100 man --warnings -l "$root/usr/share/man/man8/falco-driver-loader.8.gz" 2>&1 >/dev/null) || return 1
    want_eq "$out" "" "man --warnings" || return 1
  fi
  # The completion, as bash-completion would load it (it reads the options from the installed binary's --help).
  out=$(PATH="$root/usr/bin:/usr/bin:/bin" bash -c '. "$1"; COMP_WORDS=(falco-driver-loader --c); COMP_CWORD=1
    _falco_driver_loader; echo "${COMPREPLY[*]}"' _ "$root/usr/share/bash-completion/completions/falco-driver-loader") || return 1
  want_eq "$out" "--clean --compile --check" "bash completion of --c"
}
check "deb: unpacked (dpkg -x): binary identical to the executable and runs --version; man page; completion" deb_unpacked

# A stand-in for Falco 0.36's package: it owns /usr/bin/falco-driver-loader, like the real one.
fake_falco_deb() {
  local d=$WORK/fake-falco
  mkdir -p "$d/DEBIAN" "$d/usr/bin"
  printf '#!/bin/sh\necho "legacy falco-driver-loader 0.36.2 $*"\n' >"$d/usr/bin/falco-driver-loader"
  chmod 0755 "$d/usr/bin/falco-driver-loader"
  printf 'Package: falco\nVersion: 0.36.2\nArchitecture: all\nMaintainer: ci <ci@example.org>\nDescription: stand-in for Falco 0.36.2\n' >"$d/DEBIAN/control"
  dpkg-deb --root-owner-group -b "$d" "$WORK/falco_0.36.2_all.deb" >/dev/null
}
deb_scratch_install() {
  local R=$WORK/dpkg-root host_before out f
  fake_falco_deb || return 1
  host_before=$(dpkg-divert --list)
  # dpkg --root: own database under $R; --force-script-chrootless: maintainer scripts run here with DPKG_ROOT=$R,
  # which dpkg-divert honours (dpkg >= 1.19.2); --force-depends: libc6/kmod are not in this empty database.
  dp() { dpkg --root="$R" --log=/dev/null --force-script-chrootless --force-depends "$@"; }
  reset_root() {
    rm -rf "$R" && mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers" &&
      touch "$R/var/lib/dpkg/status" "$R/var/lib/dpkg/available"
  }
  payload() { (cd "$R" && find . -path ./var/lib/dpkg -prune -o \( -type f -o -type l \) -print | sort); }
  runs_ours() { out=$("$R/usr/bin/falco-driver-loader" --version 2>&1) && [ "$(printf '%s\n' "$out" | head -n1)" = "falco-driver-loader $V" ]; }
  runs_legacy() { out=$("$R/usr/bin/falco-driver-loader" 2>&1) && [ "$out" = "legacy falco-driver-loader 0.36.2 " ]; }

  # 1. Falco 0.36 first, then this package: the script is diverted, ours takes the path.
  reset_root && dp -i "$WORK/falco_0.36.2_all.deb" >/dev/null 2>&1 || { echo "installing the stand-in Falco failed"; return 1; }
  out=$(dp -i "$DEB" 2>&1) || { echo "dpkg -i: $out"; return 1; }
  runs_ours || { echo "after install /usr/bin/falco-driver-loader is not ours: $out"; return 1; }
  [ "$("$R/usr/bin/falco-driver-loader.legacy")" = "legacy falco-driver-loader 0.36.2 " ] || { echo "the legacy script was not diverted to .legacy"; return 1; }
  want_grep "$(dpkg-divert --root="$R" --list)" 'diversion of /usr/bin/falco-driver-loader to /usr/bin/falco-driver-loader.legacy by falco-driver-loader' "diversions" || return 1
  # 2. Reinstall (preinst upgrade): still diverted once.
  dp -i "$DEB" >/dev/null 2>&1 || { echo "reinstall failed"; return 1; }
  want_eq "$(dpkg-divert --root="$R" --list | wc -l)" 1 "number of diversions after a reinstall" || return 1
  # 3. Remove: the script is back, nothing of ours is left.
  dp -r falco-driver-loader >/dev/null 2>&1 || { echo "dpkg -r failed"; return 1; }
  runs_legacy || { echo "after removal /usr/bin/falco-driver-loader is not the legacy script: $out"; return 1; }
  want_eq "$(dpkg-divert --root="$R" --list)" "" "diversions after removal" || return 1
  dp -P falco-driver-loader >/dev/null 2>&1 || { echo "dpkg -P failed"; return 1; }
  want_eq "$(payload)" "./usr/bin/falco-driver-loader" "files left after removal (only Falco's script)" || return 1
  want_eq "$(find "$R/var/lib/dpkg/info" -name 'falco-driver-loader.*')" "" "dpkg info files left after purge" || return 1

  # 4. This package first, then Falco 0.36: Falco's script lands on .legacy; removal gives it back.
  reset_root && dp -i "$DEB" >/dev/null 2>&1 || { echo "dpkg -i into an empty root failed"; return 1; }
  runs_ours || { echo "alone: $out"; return 1; }
  dp -i "$WORK/falco_0.36.2_all.deb" >/dev/null 2>&1 || { echo "installing the stand-in Falco after ours failed"; return 1; }
  runs_ours || { echo "installing Falco 0.36 afterwards overwrote ours: $out"; return 1; }
  dp -P falco-driver-loader >/dev/null 2>&1 || return 1
  runs_legacy || { echo "Falco's script did not come back: $out"; return 1; }

  # 5. Alone, removed: nothing left at all.
  reset_root && dp -i "$DEB" >/dev/null 2>&1 && dp -P falco-driver-loader >/dev/null 2>&1 || return 1
  want_eq "$(payload)" "" "files left after install + purge" || return 1
  want_eq "$(dpkg-divert --list)" "$host_before" "this machine's own diversions (must be untouched)"
}
if [ "$IS_ROOT" = yes ]; then
  check "deb: beside Falco 0.36 in a scratch root (dpkg --root): diverts its script both ways, removal restores it, purge leaves nothing" deb_scratch_install
else
  skip "deb: scratch-root install" "needs root"
fi

if command -v lintian >/dev/null; then
  suppress=()
  # The default maintainer is a placeholder (PKG_MAINTAINER in lib.sh): set a real one for a public release.
  case "$PKG_MAINTAINER" in *@localhost*) suppress=(--suppress-tags bogus-mail-host,bogus-mail-host-in-debian-changelog) ;; esac
  check "deb: lintian (with packaging/deb/lintian-overrides)" lintian --fail-on error,warning "${suppress[@]}" "$DEB"
else
  skip "deb: lintian" "lintian is not installed"
fi

# ------------------------------------------------------------------------------------------------------------ rpm
# Queries use a database in the work dir: rpm on Debian would otherwise create ~/.rpmdb.
rpm_q() { rpm --define "_dbpath $WORK/rpmdb" -qp "$@" 2>/dev/null; }
rpm_header() {
  local info
  info=$(rpm_q -i "$RPM") || { echo "rpm -qpi failed"; return 1; }
  want_grep "$info" '^Name +: falco-driver-loader$' "rpm -qpi" &&
    want_grep "$info" "^Version +: $PKG_PKGVERSION\$" "rpm -qpi" &&
    want_grep "$info" "^Release +: $PKG_RELEASE\$" "rpm -qpi" &&
    want_grep "$info" '^Architecture: x86_64$' "rpm -qpi"
}
check "rpm: header (rpm -qpi): name, version, release, x86_64" rpm_header

rpm_deps() {
  local req rec con scripts
  req=$(rpm_q --requires "$RPM") && rec=$(rpm_q --recommends "$RPM") && con=$(rpm_q --conflicts "$RPM") || return 1
  scripts=$(rpm_q --scripts "$RPM")
  want_line "$req" "glibc >= 2.28" "Requires" &&
    want_line "$req" "kmod" "Requires" &&
    want_line "$rec" "dkms" "Recommends" &&
    want_line "$con" "falco < 0.37.0" "Conflicts" &&
    want_eq "$scripts" "" "scriptlets (nothing may run, let alone load a driver, on install/removal)"
}
check "rpm: Requires glibc >= 2.28 + kmod, Recommends dkms, Conflicts falco < 0.37.0, no scriptlets" rpm_deps

rpm_files() {
  local files root=$WORK/rpm-x
  files=$(rpm_q --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$RPM" | grep -v '^d' | cut -d' ' -f2 | grep -v '^/usr/share/licenses/' | sort)
  want_eq "$files" "$EXPECTED_FILES" "payload files (besides licences)" || return 1
  want_grep "$(rpm_q -l "$RPM")" '^/usr/share/licenses/falco-driver-loader/LICENSE.node$' "licence of the embedded Node.js" || return 1
  mkdir -p "$root" && (cd "$root" && rpm2cpio "$RPM" | cpio -idm --quiet) || { echo "rpm2cpio | cpio failed"; return 1; }
  want_eq "$(sha "$root/usr/bin/falco-driver-loader")" "$(sha "$EXE")" "packaged binary vs. built executable (never stripped after injection)"
}
check "rpm: files (rpm -qpl) and payload (rpm2cpio): binary identical to the executable" rpm_files

fake_falco_rpm() {
  local d=$WORK/fake-falco-rpm
  mkdir -p "$d/payload/usr/bin"
  printf '#!/bin/sh\necho legacy\n' >"$d/payload/usr/bin/falco-driver-loader"
  chmod 0755 "$d/payload/usr/bin/falco-driver-loader"
  printf '%s\n' 'Name: falco' 'Version: 0.36.2' 'Release: 1' 'Summary: stand-in for Falco 0.36.2' 'License: Apache-2.0' \
    'BuildArch: noarch' 'AutoReqProv: no' '%description' 'stand-in' '%install' 'cp -a %{payload}/. %{buildroot}/' \
    '%files' '/usr/bin/falco-driver-loader' >"$d/falco.spec"
  rpmbuild -bb --define "_dbpath $WORK/rpmdb" --define "_topdir $d/top" --define "payload $d/payload" "$d/falco.spec" >/dev/null 2>&1 &&
    cp "$d/top/RPMS/noarch/falco-0.36.2-1.noarch.rpm" "$WORK/"
}
rpm_scratch_install() {
  local R=$WORK/rpm-root out
  fake_falco_rpm || { echo "building the stand-in Falco rpm failed"; return 1; }
  r() { rpm --root "$R" --define '_dbpath /var/lib/rpm' "$@" 2>&1 | grep -v '^rpm: \(RPM should not be used directly\|However assuming\)'; }
  rm -rf "$R" && mkdir -p "$R" && r --initdb
  # Falco 0.36 installed: ours is refused with the declared conflict (not a file conflict).
  r -i --nodeps "$WORK/falco-0.36.2-1.noarch.rpm" >/dev/null
  out=$(r -i --test "$RPM")
  want_grep "$out" 'falco < 0\.37\.0 conflicts with falco-driver-loader' "installing beside Falco 0.36" || return 1
  if grep -q 'file /usr/bin/falco-driver-loader' <<<"$out"; then echo "a file conflict was reported: $out"; return 1; fi
  # Ours installed: Falco 0.36 is refused the same way.
  r -e falco >/dev/null
  out=$(r -i --nodeps "$RPM") || true
  [ -x "$R/usr/bin/falco-driver-loader" ] || { echo "rpm -i --nodeps into the scratch root failed: $out"; return 1; }
  out=$(r -i --test "$WORK/falco-0.36.2-1.noarch.rpm")
  want_grep "$out" 'conflicts with \(installed\) falco-driver-loader' "installing Falco 0.36 afterwards" || return 1
  out=$(env -i PATH=/usr/bin:/bin "$R/usr/bin/falco-driver-loader" --version 2>&1) || { echo "$out"; return 1; }
  want_eq "$(printf '%s\n' "$out" | head -n1)" "falco-driver-loader $V" "--version of the installed binary" || return 1
  r -e falco-driver-loader >/dev/null
  want_eq "$(cd "$R" && find . -path ./var -prune -o \( -type f -o -type l \) -print)" "" "files left after rpm -e"
}
if [ "$IS_ROOT" = yes ]; then
  check "rpm: in a scratch root (rpm --root): conflicts with Falco 0.36 both ways, installs, runs --version, erases clean" rpm_scratch_install
else
  skip "rpm: scratch-root install" "needs root"
fi

# -------------------------------------------------------------------------------------------------------- aarch64
arm_sysroot() { # the aarch64 glibc/libstdc++ from Debian's cross packages (arch: all), unpacked, not installed
  local d=$WORK/arm-debs p
  mkdir -p "$d" && chmod 0777 "$d"
  (cd "$d" && apt-get download -qq libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross >/dev/null 2>&1) || return 1
  for p in "$d"/*.deb; do dpkg -x "$p" "$WORK/arm-sysroot" || return 1; done
  [ -e "$WORK/arm-sysroot/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1" ]
}
arm_smoke() {
  local q="qemu-aarch64-static -L $WORK/arm-sysroot/usr/aarch64-linux-gnu" out
  want_grep "$(readelf -h "$EXE_ARM")" 'Machine: +AArch64' "ELF header" || return 1
  out=$(env -i PATH=/usr/bin:/bin $q "$EXE_ARM" --version 2>&1) || { echo "$out"; return 1; }
  want_eq "$(printf '%s\n' "$out" | head -n1)" "falco-driver-loader $V" "--version under qemu" || return 1
  out=$(env -i PATH=/usr/bin:/bin HOST_ROOT="$FAKE_HOST" FALCO_DRIVER_LOADER_SYSROOT="$WORK/sysroot" \
    DRIVER_KERNEL_RELEASE="$KREL" DRIVER_KERNEL_VERSION="$KVER" $q "$EXE_ARM" --print-env 2>&1) || { echo "$out"; return 1; }
  expect_print_env "$out" aarch64
}
if [ "$ARM_BUILT" != yes ]; then
  skip "sea aarch64: smoke test under qemu-aarch64-static" "the aarch64 executable was not built"
elif ! command -v qemu-aarch64-static >/dev/null; then
  skip "sea aarch64: smoke test under qemu-aarch64-static" "qemu-user-static is not installable here"
elif ! arm_sysroot; then
  skip "sea aarch64: smoke test under qemu-aarch64-static" "could not fetch Debian's arm64 cross libc (apt-get download)"
else
  check "sea aarch64: AArch64 ELF; --version and --print-env under qemu-aarch64-static" arm_smoke
fi

# ---------------------------------------------------------------------------------------- install steps, image
install_steps() { # what README.md's Install section tells users to do with the single executable
  local bin=$WORK/usr-local-bin out
  # The sums go to the work dir, not dist/SHA256SUMS: that one is release.sh's, for all six artifacts.
  local files=("$EXE" "$DEB" "$RPM")
  [ "$ARM_BUILT" = yes ] && files+=("$EXE_ARM")
  pkg_write_sums "$WORK/SHA256SUMS" "${files[@]}" || return 1
  (cd "$PKG_DIST" && sha256sum -c --ignore-missing "$WORK/SHA256SUMS") || return 1
  install -D -m 0755 "$EXE" "$bin/falco-driver-loader" || return 1
  out=$(env -i PATH="$bin:/usr/bin:/bin" falco-driver-loader --version) || return 1
  want_eq "$(printf '%s\n' "$out" | head -n1)" "falco-driver-loader $V" "falco-driver-loader --version after install" || return 1
  grep -qF 'sha256sum -c --ignore-missing SHA256SUMS' README.md || { echo "README.md's Install section no longer shows the checksum step"; return 1; }
}
check "install: SHA256SUMS verifies (sha256sum -c), install -m 0755 + --version, as README.md's Install section says" install_steps

image_apt_packages() { # the image's apt packages exist in bookworm (this machine's release, when it is bookworm)
  local pkgs p missing=()
  pkgs=$(sed -n '/apt-get install/,/rm -rf/p' packaging/docker/Dockerfile | tr ' \\' '\n\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' |
    grep -vxE 'apt-get|install|clean|rm|rf|run|and|&&' | sort -u)
  for p in $pkgs; do apt-cache show --no-all-versions "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] || { echo "not in this machine's apt index: ${missing[*]}"; return 1; }
  echo "$pkgs" | wc -w
}
if grep -q '^VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null && apt-cache show --no-all-versions dkms >/dev/null 2>&1; then
  check "image: every apt package the Dockerfile installs exists in Debian bookworm" image_apt_packages
else
  skip "image: apt packages" "this machine is not Debian bookworm or has no apt lists"
fi
# The container image: built with podman (npm run build:image) and run as the Helm chart runs it.
# shellcheck source=packaging/image-check.sh
. packaging/image-check.sh

# ---------------------------------------------------------------------------------------------------------- summary
echo "ci-check: $PASSED passed, $FAILED failed, $SKIPPED skipped in $(($(date +%s) - T0)) s"
artifacts=("$EXE" "$DEB" "$RPM")
[ "$ARM_BUILT" = yes ] && artifacts+=("$EXE_ARM")
for f in "${artifacts[@]}"; do [ -f "$f" ] && printf '  %6s MB  %s\n' "$(du -m -- "$f" | cut -f1)" "$f"; done
[ "$FAILED" -eq 0 ]

#!/usr/bin/env bash
# shellcheck disable=SC2016 # node -e programs are single-quoted on purpose
# End-to-end test on a real Linux kernel (issue #7): `npm run test:e2e`, called from .ci/run.
#
# 1. Installs what it needs from Debian's packages (only what is missing; needs root then).
# 2. Fetches Debian's current 6.1 kernel image and its headers with `apt-get download` and unpacks them with
#    `dpkg-deb -x` under .e2e-cache/ (never installed on this machine).
# 3. Builds the loader (the single executable when it is built and up to date, else node + the bundle).
# 4. Builds test/e2e/module (a stand-in module named falco, MODULE_VERSION 9.9.9+driver) against those headers,
#    plus a copy whose vermagic names another release and a truncated copy.
# 5. host-dkms: runs the loader with --compile on this machine against the real dkms, confined to a temp tree by
#    test/e2e/host-bin/dkms (insmod/lsmod/rmmod are stand-ins: nothing is loaded here), and checks that
#    /var/lib/dkms, /lib/modules, /usr/src, /etc/dkms and /boot are untouched.
# 6. host-sign (issue #10): makes two throwaway signing keys (openssl, RSA 2048, DER certificates, keys 0600) under
#    .e2e-cache/work/sign; the loader signs a cached copy of the module with --sign-tool builtin in a temp sysroot
#    (insmod is a stand-in); the result must match the kernel's own scripts/sign-file byte for byte, and modinfo must
#    show signer, sig_key, sig_hashalgo for that certificate.
# 7. Packs an initramfs (busybox, kmod, the loader and their libraries, the repositories, the keys, efivarfs.ko,
#    test/e2e/guest/init) and boots the kernel under QEMU (TCG, no network device), which runs the scenarios and
#    prints one `E2E <id> PASS|FAIL|SKIP <detail>` line each: scenarios 0-7 and S3 (a signed module loads).
# 8. Boots the same kernel and initramfs again with module.sig_enforce=1 (Secure Boot scenarios S1, S2, S4): under
#    OVMF (UEFI) with a variable store whose `db` holds the first key's certificate (test/e2e/host/ovmf-db-vars.cjs),
#    so that Debian's kernel trusts that key through its platform keyring. Without OVMF the boot uses SeaBIOS and S4
#    is reported as SKIP with the reason.
# 8b. Legs (test/e2e/legs/*.sh, sourced in name order after host-sign): each adds its ids to EXPECTED_IDS, does
#    its build-machine work, and may register STAGE_HOOKS (functions called with the initramfs root, to add files
#    to it: guest-side scenarios go to /e2e/guest.d/<leg>.sh and run in the normal boot after scenarios 0-7/S3)
#    and BOOT_HOOKS (functions called after the two standard boots, for a leg's own boot: `boot <name> "e2e.leg=<leg>"`
#    makes the guest run only /e2e/guest.d/<leg>.boot.sh). Downloads and builds that must survive a fresh clone go
#    under SHARED_CACHE (E2E_SHARED_CACHE, default ${XDG_CACHE_HOME:-$HOME/.cache}/falco-driver-loader/e2e).
# 9. Prints every result, the timings and `e2e: N passed, N failed` (SKIP counts as neither, and is listed); writes
#    .e2e-cache/results.json; exits 1 when any check failed or is missing.
#
# Environment: E2E_LOADER=auto|sea|node (auto: the single executable dist/falco-driver-loader-<version>-x86_64,
# rebuilt with packaging/build-sea.mjs when older than src/; node + the bundle when it cannot be built),
# E2E_REQUIRE_SEA=1 (fail instead of falling back to node), E2E_KERNEL_PACKAGE=linux-image-6.1.0-NN-amd64
# (default: what linux-image-amd64 depends on), E2E_BOOT_TIMEOUT (seconds, default 600), E2E_ACCEL (QEMU
# accelerator, default tcg; kvm where it works), E2E_CACHE (default .e2e-cache in the repository), E2E_OVMF_CODE
# (default /usr/share/OVMF/OVMF_CODE_4M.fd) and E2E_OVMF_VARS (default /usr/share/OVMF/OVMF_VARS_4M.fd, an empty
# store) for the enforcing boot; E2E_OVMF_CODE=none boots it with SeaBIOS (S4 is then SKIP).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${E2E_CACHE:-$ROOT/.e2e-cache}
WORK=$CACHE/work
SHARED_CACHE=${E2E_SHARED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/falco-driver-loader/e2e}
BOOT_TIMEOUT=${E2E_BOOT_TIMEOUT:-600}
DV=9.9.9+driver # the driver version served and built: test/e2e/module/falco.c and dkms.conf say the same
PACKAGES=(qemu-system-x86 busybox-static cpio kmod dkms gcc make libc6-dev libelf1 openssl ovmf)
EXPECTED_IDS=(host-naming host-dkms host-sign 0 1 2 3 4 5 6 7 S3 S1 S2 S4)
declare -a STAGE_HOOKS=() BOOT_HOOKS=()

T_START=$EPOCHREALTIME
declare -a TIMINGS=() RESULTS=()
PHASE_T0=$T_START
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
log() { printf '[e2e %6ss] %s\n' "$(secs "$T_START" "$EPOCHREALTIME")" "$*"; }
die() {
  log "ERROR: $*"
  finish 1
}
phase_done() {
  TIMINGS+=("$(printf '%-28s %7ss' "$1" "$(secs "$PHASE_T0" "$EPOCHREALTIME")")")
  PHASE_T0=$EPOCHREALTIME
}
result() { # id PASS|FAIL|SKIP detail
  RESULTS+=("$1"$'\t'"$2"$'\t'"$3")
  echo "E2E $1 $2 $3"
}

finish() {
  local forced=${1:-} passed=0 failed=0 skipped=0 id line status
  local -a skipped_ids=()
  echo
  echo "== e2e results"
  for id in "${EXPECTED_IDS[@]}"; do
    line=$(printf '%s\n' "${RESULTS[@]}" | awk -F'\t' -v id="$id" '$1 == id { print; exit }')
    if [ -z "$line" ]; then
      RESULTS+=("$id"$'\t'"FAIL"$'\t'"missing: the check did not report")
      line="$id"$'\t'"FAIL"$'\t'"missing: the check did not report"
    fi
    status=$(cut -f2 <<<"$line")
    case "$status" in
    PASS) passed=$((passed + 1)) ;;
    SKIP) skipped=$((skipped + 1)) && skipped_ids+=("$id") ;;
    *) failed=$((failed + 1)) ;;
    esac
    printf '  %-12s %s  %s\n' "$id" "$status" "$(cut -f3 <<<"$line")"
  done
  [ "$forced" = 1 ] && [ "$failed" = 0 ] && failed=1
  echo
  echo "== e2e timings"
  printf '  %s\n' "${TIMINGS[@]}"
  printf '  %-28s %7ss\n' "total" "$(secs "$T_START" "$EPOCHREALTIME")"
  mkdir -p "$CACHE"
  printf '%s\n' "${RESULTS[@]}" | OUT="$CACHE/results.json" node -e '
    const fs = require("node:fs");
    const checks = fs.readFileSync(0, "utf8").split("\n").filter(Boolean)
      .map((l) => { const [id, status, detail] = l.split("\t"); return { id, status, detail }; });
    const [passed, failed, seconds, skipped] = process.argv.slice(1).map(Number);
    const r = { numPassedTests: passed, numFailedTests: failed, numTotalTests: passed + failed, numSkippedTests: skipped, durationSeconds: seconds, checks };
    fs.writeFileSync(process.env.OUT, `${JSON.stringify(r, null, 2)}\n`);
  ' "$passed" "$failed" "$(secs "$T_START" "$EPOCHREALTIME")" "$skipped" || log "could not write $CACHE/results.json"
  [ "$skipped" = 0 ] || echo "e2e: $skipped skipped (not covered here, see above): ${skipped_ids[*]}"
  echo "e2e: $passed passed, $failed failed"
  [ "$failed" = 0 ] && exit 0
  exit 1
}

# ---------------------------------------------------------------------------------------------------- packages
log "packages: ${PACKAGES[*]}"
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
APT_UPDATED=0
apt_update() {
  [ "$APT_UPDATED" = 1 ] && return 0
  log "apt-get update"
  apt-get update -q >"$CACHE/apt-update.log" 2>&1 || {
    tail -n 20 "$CACHE/apt-update.log"
    die "apt-get update failed"
  }
  APT_UPDATED=1
}
mkdir -p "$CACHE"
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing packages ${missing[*]}: run as root, or: sudo apt-get install --no-install-recommends ${missing[*]}"
  apt_update
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >"$CACHE/apt-install.log" 2>&1 || {
    tail -n 30 "$CACHE/apt-install.log"
    die "apt-get install failed"
  }
fi
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then die "/bin/busybox is not busybox-static's static binary"; fi
phase_done "packages"

# ------------------------------------------------------------------------------------------------------ kernel
# resolve_kernel: KPKG (linux-image-<release>), REL, KVER, KPKGS (image, headers, -common, kbuild) and NEED (the
# .debs not in $CACHE/debs yet), from apt's current lists.
resolve_kernel() {
  KPKG=${E2E_KERNEL_PACKAGE:-}
  [ -n "$KPKG" ] ||
    KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
  [ -n "$KPKG" ] || return 1
  REL=${KPKG#linux-image-}
  HPKG=linux-headers-$REL
  mapfile -t HDEPS < <(apt-cache depends "$HPKG" 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-(headers-.*-common|kbuild-)/ { print $2 }')
  [ ${#HDEPS[@]} = 2 ] || return 1
  KPKGS=("$KPKG" "$HPKG" "${HDEPS[@]}")
  declare -gA CAND=()
  while read -r p v; do CAND[$p]=$v; done < <(apt-cache show --no-all-versions "${KPKGS[@]}" 2>/dev/null | awk '/^Package:/ { p = $2 } /^Version:/ { print p, $2 }')
  NEED=()
  for p in "${KPKGS[@]}"; do
    [ -n "${CAND[$p]:-}" ] || return 1
    compgen -G "$CACHE/debs/${p}_${CAND[$p]}_*.deb" >/dev/null || NEED+=("$p")
  done
  KVER=${CAND[$KPKG]}
}
mkdir -p "$CACHE/debs"
# Fresh lists before downloading anything: the mirror drops superseded kernels.
if ! resolve_kernel || { [ ${#NEED[@]} -gt 0 ] && [ "$APT_UPDATED" = 0 ] && [ "$(id -u)" = 0 ]; }; then
  apt_update
  resolve_kernel || die "cannot resolve Debian's kernel and header packages (apt-cache depends linux-image-amd64 / ${HPKG:-linux-headers-…})"
fi
if [ ${#NEED[@]} -gt 0 ]; then
  log "apt-get download ${NEED[*]}"
  (cd "$CACHE/debs" && apt-get download -q -o APT::Sandbox::User=root "${NEED[@]}") >"$CACHE/apt-download.log" 2>&1 || {
    tail -n 20 "$CACHE/apt-download.log"
    die "apt-get download failed"
  }
fi
KROOT=$CACHE/kernel/$REL-$KVER
if [ ! -f "$KROOT/.extracted" ]; then
  log "dpkg-deb -x ${KPKGS[*]} -> $KROOT"
  rm -rf "$KROOT" && mkdir -p "$KROOT"
  for p in "$HPKG" "${HDEPS[@]}"; do dpkg-deb -x "$(compgen -G "$CACHE/debs/${p}_*.deb" | sort -V | tail -n 1)" "$KROOT"; done
  # The image package is mostly modules; only /boot (vmlinuz, config) is needed.
  dpkg-deb --fsys-tarfile "$(compgen -G "$CACHE/debs/${KPKG}_${KVER}_*.deb" | head -n 1)" | tar -x -C "$KROOT" --wildcards './boot/*'
  cp "$KROOT/usr/src/linux-headers-$REL/Makefile" "$KROOT/usr/src/linux-headers-$REL/Makefile.orig"
  touch "$KROOT/.extracted"
fi
# efivarfs is a module in Debian's kernel (signed by Debian's build key, so it loads under sig_enforce too): the
# enforcing boot mounts it, so that the loader reads the EFI SecureBoot variable as on a real UEFI host.
EFIVARFS_KO=$KROOT/lib/modules/$REL/kernel/fs/efivarfs/efivarfs.ko
if [ ! -f "$EFIVARFS_KO" ]; then
  dpkg-deb --fsys-tarfile "$(compgen -G "$CACHE/debs/${KPKG}_${KVER}_*.deb" | head -n 1)" |
    tar -x -C "$KROOT" "./lib/modules/$REL/kernel/fs/efivarfs/efivarfs.ko" || log "no efivarfs.ko in $KPKG"
fi
SIGN_FILE=$(find "$KROOT/usr/lib" -path '*/scripts/sign-file' -type f 2>/dev/null | head -n 1)
KDIR=$KROOT/usr/src/linux-headers-$REL
# Debian's per-flavour Makefile includes the -common one by absolute path (/usr/src/…): point it into KROOT.
sed "s|^include /usr/src/|include $KROOT/usr/src/|" "$KDIR/Makefile.orig" >"$KDIR/Makefile"
VMLINUZ=$KROOT/boot/vmlinuz-$REL
[ -f "$VMLINUZ" ] || die "no $VMLINUZ"
# `uname -r` and `uname -v` of the guest, from the bzImage header (the kernel_version string at 0x200 + [0x20e]).
KSTRING=$(node -e '
  const d = require("node:fs").readFileSync(process.argv[1]);
  const off = d.readUInt16LE(0x20e) + 0x200;
  process.stdout.write(d.subarray(off, d.indexOf(0, off)).toString("latin1"));
' "$VMLINUZ")
UNAME_R=${KSTRING%% *}
UNAME_V="#${KSTRING#*#}"
[ "$UNAME_R" = "$REL" ] || die "$VMLINUZ says release $UNAME_R, expected $REL"
log "guest kernel: $KPKG $KVER; uname -r: $UNAME_R; uname -v: $UNAME_V"
phase_done "kernel download + extract"

# ------------------------------------------------------------------------------------------------------ loader
rm -rf "$WORK" && mkdir -p "$WORK"
cd "$ROOT"
[ -d node_modules ] || npm ci --no-audit --no-fund >"$WORK/npm-ci.log" 2>&1 || die "npm ci failed (see $WORK/npm-ci.log)"
npm run build --silent >"$WORK/build.log" 2>&1 || {
  cat "$WORK/build.log"
  die "npm run build failed"
}
PKG_VERSION=$(node -p 'require("./package.json").version')
SEA=$ROOT/dist/falco-driver-loader-$PKG_VERSION-x86_64
BUNDLE=$ROOT/dist/falco-driver-loader.cjs
NODE_BIN=$(readlink -f "$(command -v node)")
mode=${E2E_LOADER:-auto}
newest_src=$(find src package-lock.json -type f -printf '%T@\n' | sort -n | tail -n 1)
sea_fresh() { [ -x "$SEA" ] && awk -v a="$(stat -c %Y "$SEA")" -v b="$newest_src" 'BEGIN { exit !(a >= b) }'; }
case "$mode" in
auto)
  if ! sea_fresh && [ -f packaging/build-sea.mjs ]; then
    log "building the single executable: node packaging/build-sea.mjs --arch x86_64"
    node packaging/build-sea.mjs --arch x86_64 >"$WORK/build-sea.log" 2>&1 || log "the single executable did not build (see $WORK/build-sea.log)"
  fi
  if sea_fresh; then
    mode=sea
  else
    why=$([ -x "$SEA" ] && echo "older than src/" || echo "not built")
    [ "${E2E_REQUIRE_SEA:-}" = 1 ] && die "the single executable $SEA is $why (npm run build:sea)"
    log "the single executable $SEA is $why: using node $(node --version) + $BUNDLE"
    mode=node
  fi
  ;;
sea) [ -x "$SEA" ] || die "E2E_LOADER=sea but $SEA is not built (npm run build:sea)" ;;
node) ;;
*) die "E2E_LOADER=$mode: use auto, sea or node" ;;
esac
if [ "$mode" = sea ]; then
  LOADER_CMD=("$SEA")
  LOADER_KIND="single executable $(basename "$SEA") ($("$SEA" --version 2>/dev/null | head -n 1))"
else
  LOADER_CMD=("$NODE_BIN" "$BUNDLE")
  LOADER_KIND="node $(node --version) + dist/falco-driver-loader.cjs"
fi
log "loader: $LOADER_KIND"
phase_done "loader build"

# ------------------------------------------------------------------------------------------------- host-naming
mkdir -p "$WORK/hostroot/etc"
cat >"$WORK/hostroot/etc/os-release" <<'EOF'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
EOF
env -i PATH=/usr/bin:/bin HOME="$WORK/home" HOST_ROOT="$WORK/hostroot" DRIVER_KERNEL_RELEASE="$REL" \
  DRIVER_KERNEL_VERSION="$UNAME_V" DRIVER_VERSION="$DV" FALCO_DRIVER_LOADER_FALCOCTL=never \
  "${LOADER_CMD[@]}" --print-env >"$WORK/print-env.txt" 2>&1 || die "--print-env failed: $(cat "$WORK/print-env.txt")"
pe() { sed -n "s/^$1=\"\(.*\)\"\$/\1/p" "$WORK/print-env.txt"; }
FILE="$(pe DRIVER_NAME)_$(pe TARGET_ID)_$(pe KERNEL_RELEASE)_$(pe KERNEL_VERSION).ko"
# The same name by the documented Debian rule, independently: the real version from `uname -v` + the flavour of
# `uname -r`, and the build number of `uname -v`.
deb_ver=$(sed -n 's/.*Debian \([0-9]*\.[0-9]*\.[0-9]*-[0-9]*\).*/\1/p' <<<"$UNAME_V")
flavour=$(sed -E 's/^[0-9]+\.[0-9]+\.[0-9]+-[0-9]+-//' <<<"$REL")
build_no=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$UNAME_V")
RULE_FILE="falco_debian_${deb_ver}-${flavour}_${build_no}.ko"
if [ "$FILE" = "$RULE_FILE" ]; then
  result host-naming PASS "the loader names the guest's module $FILE (Debian rule: uname -v 'Debian $deb_ver')"
else
  result host-naming FAIL "the loader names the guest's module $FILE, the Debian rule gives $RULE_FILE"
fi

# ----------------------------------------------------------------------------------------------------- modules
MB=$WORK/module-build
mkdir -p "$MB" && cp "$HERE"/module/* "$MB/"
make -C "$KDIR" M="$MB" modules >"$WORK/module-make.log" 2>&1 || {
  cat "$WORK/module-make.log"
  die "building test/e2e/module against $KDIR failed"
}
GOOD=$MB/falco.ko
[ "$(modinfo -F version "$GOOD")" = "$DV" ] || die "$GOOD: version is not $DV"
case "$(modinfo -F vermagic "$GOOD")" in "$REL "*) ;; *) die "$GOOD: vermagic $(modinfo -F vermagic "$GOOD") is not for $REL" ;; esac
# Same module, vermagic naming another release of the same length (6.1.0-56-amd64 -> 6.1.0-99-amd64). Debian's
# kernels have CONFIG_MODVERSIONS, so the kernel itself would still load it: only the loader's check stops it.
abi=$(sed -E 's/^[0-9]+\.[0-9]+\.[0-9]+-([0-9]+)-.*/\1/' <<<"$REL")
other=$(printf "%${#abi}s" | tr ' ' 9)
[ "$other" = "$abi" ] && other=$(printf "%${#abi}s" | tr ' ' 1)
WRONG_REL=${REL/-$abi-/-$other-}
WRONG=$WORK/wrong-vermagic.ko
node -e '
  const fs = require("node:fs");
  const [src, dst, rel, wrong] = process.argv.slice(1);
  const buf = fs.readFileSync(src);
  const from = Buffer.from(`vermagic=${rel} `);
  const at = buf.indexOf(from);
  if (at < 0 || buf.indexOf(from, at + 1) >= 0 || wrong.length !== rel.length) process.exit(1);
  Buffer.from(`vermagic=${wrong} `).copy(buf, at);
  fs.writeFileSync(dst, buf);
' "$GOOD" "$WRONG" "$REL" "$WRONG_REL" || die "cannot rewrite the vermagic of $GOOD"
case "$(modinfo -F vermagic "$WRONG")" in "$WRONG_REL "*) ;; *) die "$WRONG: vermagic not rewritten" ;; esac
TRUNC=$WORK/truncated.ko
head -c $(($(stat -c %s "$GOOD") / 2)) "$GOOD" >"$TRUNC"
log "modules: $(basename "$GOOD") ($(stat -c %s "$GOOD") bytes, vermagic $REL), wrong vermagic $WRONG_REL, truncated $(stat -c %s "$TRUNC") bytes"
phase_done "module build"

# --------------------------------------------------------------------------------------------------- host-dkms
# The loader's DKMS step against the real dkms and gcc of this machine, everything under the sysroot SR.
SR=$WORK/dkms-sysroot
mkdir -p "$SR/usr/src/falco-$DV" "$SR/var/lib/dkms" "$SR/lib/modules/$REL" "$SR/tmp" "$SR/home"
touch "$SR/.e2e-sysroot"
cp "$HERE"/module/* "$SR/usr/src/falco-$DV/"
ln -s "$KDIR" "$SR/lib/modules/$REL/build"
snapshot() {
  local d
  for d in /var/lib/dkms /lib/modules /usr/src /etc/dkms /boot; do
    if [ -e "$d" ]; then find "$d" -printf '%p %y %m %s %T@ %l\n' | sort; else echo "$d absent"; fi
  done
}
snapshot >"$WORK/system-before.txt"
set +e
env -i PATH="$HERE/host-bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" HOME="$SR/home" TMPDIR="$SR/tmp" \
  HOST_ROOT="$WORK/hostroot" FALCO_DRIVER_LOADER_SYSROOT="$SR" E2E_KERNELSOURCEDIR="$KDIR" KERNELDIR="$KDIR" \
  DRIVER_KERNEL_RELEASE="$REL" DRIVER_KERNEL_VERSION="$UNAME_V" DRIVER_VERSION="$DV" \
  DRIVERS_REPO=http://127.0.0.1:9 FALCO_DRIVER_LOADER_FALCOCTL=never FALCO_DRIVER_LOADER_RMMOD_WAIT_SECONDS=0 \
  "${LOADER_CMD[@]}" --compile >"$WORK/host-dkms.log" 2>&1
hrc=$?
set -e
snapshot >"$WORK/system-after.txt"
sed 's/^/    | /' "$WORK/host-dkms.log"
echo "    | (exit $hrc)"
DKMS_KO=$SR/var/lib/dkms/falco/$DV/$REL/x86_64/module/falco.ko
why=()
[ "$hrc" = 0 ] || why+=("exit $hrc")
# The wrapper lives in a fresh mkdtemp directory (falco-dkms-make-XXXXXX/make): its random part is normalised.
sed 's#/falco-dkms-make-[A-Za-z0-9]*/make#/falco-dkms-make-XXXXXX/make#' "$SR/dkms.log" 2>/dev/null |
  grep -qxF "install --directive=MAKE='$SR/tmp/falco-dkms-make-XXXXXX/make' -m falco -v $DV -k $REL" ||
  why+=("dkms not called as expected: $(tr '\n' ' ' <"$SR/dkms.log" 2>/dev/null)")
[ -f "$DKMS_KO" ] || why+=("no $DKMS_KO")
[ -f "$SR/lib/modules/$REL/updates/dkms/falco.ko" ] || why+=("dkms did not install into the confined install tree")
case "$(modinfo -F vermagic "$DKMS_KO" 2>/dev/null)" in "$REL "*) ;; *) why+=("built module's vermagic is not $REL") ;; esac
[ "$(modinfo -F version "$DKMS_KO" 2>/dev/null)" = "$DV" ] || why+=("built module's version is not $DV")
grep -qF "* Success: falco module found and loaded in dkms" "$WORK/host-dkms.log" || why+=("no DKMS success line")
grep -qxF "$DKMS_KO" "$SR/insmod.log" 2>/dev/null || why+=("insmod (stand-in) was not given $DKMS_KO")
[ -z "$(ls -d "$SR"/tmp/falco-dkms-make* 2>/dev/null)" ] || why+=("the MAKE wrapper was left behind")
grep -q 'CC \[M\]' "$SR/var/lib/dkms/falco/$DV/$REL/x86_64/log/make.log" 2>/dev/null || why+=("no compile in dkms' make.log")
if ! diff -u "$WORK/system-before.txt" "$WORK/system-after.txt" >"$WORK/system-diff.txt"; then
  why+=("the build machine changed: $(head -c 500 "$WORK/system-diff.txt")")
fi
DKMS_VERSION=$(dkms --version 2>/dev/null | head -n 1)
if [ ${#why[@]} = 0 ]; then
  result host-dkms PASS "loader --compile -> $DKMS_VERSION built $DKMS_KO (vermagic $REL); /var/lib/dkms, /lib/modules, /usr/src, /etc/dkms, /boot unchanged"
else
  result host-dkms FAIL "$(printf '%s; ' "${why[@]}")"
fi
phase_done "host dkms (real dkms)"

# --------------------------------------------------------------------------------------------------- host-sign
# Two throwaway keys (issue #10): "enrolled" goes into the enforcing boot's UEFI db, "not enrolled" is trusted by
# nothing. Made fresh on every run under $WORK (removed at the start of the next run); never used elsewhere.
KEYS=$WORK/sign
mkdir -p "$KEYS" && chmod 700 "$KEYS"
CN_T="falco-driver-loader e2e throwaway key (enrolled)"
CN_U="falco-driver-loader e2e throwaway key (not enrolled)"
for k in trusted untrusted; do
  cn=$([ "$k" = trusted ] && echo "$CN_T" || echo "$CN_U")
  (umask 077 && openssl req -new -x509 -newkey rsa:2048 -sha256 -nodes -days 2 -subj "/CN=$cn/" \
    -keyout "$KEYS/$k.key" -outform DER -out "$KEYS/$k.der") >"$WORK/openssl-$k.log" 2>&1 ||
    die "openssl could not make the $k test key: $(cat "$WORK/openssl-$k.log")"
  chmod 600 "$KEYS/$k.key"
done
# modinfo's sig_key: the certificate's serial number, as colon-separated hex bytes.
serial_of() { openssl x509 -inform DER -in "$1" -noout -serial | sed 's/^serial=//; s/../&:/g; s/:$//'; }
SERIAL_T=$(serial_of "$KEYS/trusted.der")
SERIAL_U=$(serial_of "$KEYS/untrusted.der")
# The loader's built-in signer on a cached copy of the module, in a temp sysroot with the insmod stand-in.
SS=$WORK/sign-sysroot
SS_CACHE=$SS/home/.falco/$DV/x86_64
mkdir -p "$SS_CACHE" "$SS/tmp" && touch "$SS/.e2e-sysroot"
cp "$GOOD" "$SS_CACHE/$FILE"
sign_run() { # log, extra arguments
  local log=$1
  shift
  set +e
  env -i PATH="$HERE/host-bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" HOME="$SS/home" TMPDIR="$SS/tmp" \
    HOST_ROOT="$WORK/hostroot" FALCO_DRIVER_LOADER_SYSROOT="$SS" E2E_KERNELSOURCEDIR="$KDIR" \
    DRIVER_KERNEL_RELEASE="$REL" DRIVER_KERNEL_VERSION="$UNAME_V" DRIVER_VERSION="$DV" \
    DRIVERS_REPO=http://127.0.0.1:9 FALCO_DRIVER_LOADER_FALCOCTL=never FALCO_DRIVER_LOADER_RMMOD_WAIT_SECONDS=0 \
    "${LOADER_CMD[@]}" --compile --sign-key "$KEYS/trusted.key" --sign-cert "$KEYS/trusted.der" --sign-tool builtin \
    "$@" >"$log" 2>&1
  SIGN_RC=$?
  set -e
  sed 's/^/    | /' "$log"
  echo "    | (exit $SIGN_RC)"
}
why=()
sign_run "$WORK/host-sign.log"
SIGNED=$SS_CACHE/$FILE
[ "$SIGN_RC" = 0 ] || why+=("exit $SIGN_RC")
grep -qF "* Signed by '$CN_T' (sha256, " "$WORK/host-sign.log" || why+=("no '* Signed by' line")
grep -qxF "$SIGNED" "$SS/insmod.log" 2>/dev/null || why+=("insmod (stand-in) was not given $SIGNED")
mi() { modinfo -F "$1" "$SIGNED" 2>/dev/null; }
[ "$(mi signer)" = "$CN_T" ] || why+=("modinfo signer '$(mi signer)'")
[ "$(mi sig_key)" = "$SERIAL_T" ] || why+=("modinfo sig_key '$(mi sig_key)', certificate serial $SERIAL_T")
[ "$(mi sig_hashalgo)" = sha256 ] || why+=("modinfo sig_hashalgo '$(mi sig_hashalgo)'")
[ "$(mi sig_id)" = "PKCS#7" ] || why+=("modinfo sig_id '$(mi sig_id)'")
same=""
if [ -n "$SIGN_FILE" ]; then
  cp "$GOOD" "$WORK/sign-file.ko"
  if "$SIGN_FILE" sha256 "$KEYS/trusted.key" "$KEYS/trusted.der" "$WORK/sign-file.ko" >"$WORK/sign-file.log" 2>&1; then
    if cmp -s "$WORK/sign-file.ko" "$SIGNED"; then
      same="; byte-identical to the kernel's scripts/sign-file ($(basename "$(dirname "$(dirname "$SIGN_FILE")")"))"
    else
      why+=("differs from the kernel's scripts/sign-file output: $(cmp "$WORK/sign-file.ko" "$SIGNED" 2>&1 | head -n 1)")
    fi
  else
    why+=("$SIGN_FILE failed: $(head -c 300 "$WORK/sign-file.log")")
  fi
else
  why+=("no scripts/sign-file in the kernel headers to compare with")
fi
# A second run finds the cached module already signed by that certificate and does not sign it again.
cp "$SIGNED" "$WORK/signed-once.ko"
sign_run "$WORK/host-sign-2.log"
[ "$SIGN_RC" = 0 ] || why+=("second run: exit $SIGN_RC")
grep -qF "is already signed by '$CN_T': not signed again" "$WORK/host-sign-2.log" || why+=("second run: no 'already signed' line")
cmp -s "$SIGNED" "$WORK/signed-once.ko" || why+=("second run changed the signed file")
if [ ${#why[@]} = 0 ]; then
  result host-sign PASS "loader --sign-tool builtin signed the cached module (+$(($(stat -c %s "$SIGNED") - $(stat -c %s "$GOOD"))) bytes): modinfo signer '$CN_T', sig_key $SERIAL_T, sig_hashalgo sha256$same; a second run does not sign again"
else
  result host-sign FAIL "$(printf '%s; ' "${why[@]}")"
fi
phase_done "host signing"

# -------------------------------------------------------------------------------------------------------- legs
for leg in "$HERE"/legs/*.sh; do
  [ -e "$leg" ] || continue
  log "leg $(basename "$leg" .sh)"
  # shellcheck disable=SC1090 # the legs are this directory's own files
  . "$leg"
  phase_done "leg $(basename "$leg" .sh)"
done

# --------------------------------------------------------------------------------------------------- initramfs
IR=$WORK/initramfs
mkdir -p "$IR"/{bin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,etc,e2e/modules,host/etc,srv,var/lib,lib/modules}
cp /bin/busybox "$IR/bin/busybox"
for applet in $("$IR/bin/busybox" --list); do
  # The loader must get kmod's tools (what hosts have), not busybox's.
  case "$applet" in busybox | insmod | rmmod | lsmod | modprobe | depmod | modinfo) continue ;; esac
  ln -s busybox "$IR/bin/$applet"
done
cp "$(readlink -f "$(command -v kmod)")" "$IR/usr/bin/kmod"
for t in insmod rmmod lsmod modprobe depmod modinfo; do ln -s ../bin/kmod "$IR/usr/sbin/$t"; done
# util-linux flock(1): the run lock is flock(2) through it (busybox-static has no flock applet).
cp "$(readlink -f "$(command -v flock)")" "$IR/usr/bin/flock"
if [ "$mode" = sea ]; then
  cp "$SEA" "$IR/usr/bin/falco-driver-loader"
  ELFS=("$IR/usr/bin/kmod" "$IR/usr/bin/flock" "$IR/usr/bin/falco-driver-loader")
else
  mkdir -p "$IR/usr/lib/falco-driver-loader"
  cp "$NODE_BIN" "$IR/usr/lib/falco-driver-loader/node"
  # The bundle and its on-demand chunks (undici, execa: packaging/bundle.mjs) side by side.
  cp "${BUNDLE%.cjs}".*cjs "$IR/usr/lib/falco-driver-loader/"
  printf '#!/bin/sh\nexec /usr/lib/falco-driver-loader/node /usr/lib/falco-driver-loader/falco-driver-loader.cjs "$@"\n' \
    >"$IR/usr/bin/falco-driver-loader"
  chmod +x "$IR/usr/bin/falco-driver-loader"
  ELFS=("$IR/usr/bin/kmod" "$IR/usr/bin/flock" "$IR/usr/lib/falco-driver-loader/node")
fi
for lib in $(ldd "${ELFS[@]}" 2>/dev/null | grep -o '/[^ ]*\.so[^ ]*' | sort -u); do
  mkdir -p "$IR$(dirname "$lib")" && cp -L "$lib" "$IR$lib"
done
for r in good wrong trunc; do mkdir -p "$IR/srv/repo-$r/$DV/x86_64"; done
cp "$GOOD" "$IR/srv/repo-good/$DV/x86_64/$FILE"
cp "$WRONG" "$IR/srv/repo-wrong/$DV/x86_64/$FILE"
cp "$TRUNC" "$IR/srv/repo-trunc/$DV/x86_64/$FILE"
cp "$GOOD" "$IR/e2e/modules/good.ko"
[ -f "$EFIVARFS_KO" ] && cp "$EFIVARFS_KO" "$IR/e2e/modules/efivarfs.ko"
mkdir -p "$IR/e2e/sign" && chmod 700 "$IR/e2e/sign"
cp -p "$KEYS"/trusted.key "$KEYS"/trusted.der "$KEYS"/untrusted.key "$KEYS"/untrusted.der "$IR/e2e/sign/"
[ -f "$DKMS_KO" ] && cp "$DKMS_KO" "$IR/e2e/modules/dkms-falco.ko"
echo "$DKMS_VERSION" >"$IR/e2e/dkms-version"
cp -r "$HERE/guest/dkms-bin" "$HERE/guest/cut-server.sh" "$HERE/guest/enforcing.sh" "$IR/e2e/"
cp "$WORK/hostroot/etc/os-release" "$IR/host/etc/os-release"
cp "$HERE/guest/init" "$IR/init"
cat >"$IR/e2e/env" <<EOF
FILE='$FILE'
SERVED_VERSION='$DV'
WRONG_RELEASE='$WRONG_REL'
LOADER_KIND='$LOADER_KIND'
CN_T='$CN_T'
CN_U='$CN_U'
SERIAL_T='$SERIAL_T'
SERIAL_U='$SERIAL_U'
EOF
mkdir -p "$IR/e2e/guest.d"
for hook in "${STAGE_HOOKS[@]}"; do "$hook" "$IR" || die "staging hook $hook failed"; done
(cd "$IR" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) >"$WORK/initramfs.cpio"
log "initramfs: $(($(stat -c %s "$WORK/initramfs.cpio") / 1048576)) MiB ($(find "$IR" -type f | wc -l) files)"
rm -rf "$IR"
phase_done "initramfs"

# -------------------------------------------------------------------------------------------------------- boot
# TCG by default: CI has no usable KVM (here /dev/kvm exists, but QEMU aborts on "failed to set MSR 0x10a").
ACCEL=${E2E_ACCEL:-tcg}
# boot <name> <extra kernel arguments> [QEMU firmware options...]: the console goes to $WORK/<name>.log (and .txt
# without CRs); every `E2E <id> PASS|FAIL|SKIP <detail>` line goes into RESULTS.
boot() {
  local name=$1 extra=$2 qrc line id
  shift 2
  log "booting $REL under qemu-system-x86_64 (accel=$ACCEL${1:+, UEFI}${extra:+, $extra}), timeout ${BOOT_TIMEOUT}s"
  set +e
  timeout -k 10 "$BOOT_TIMEOUT" qemu-system-x86_64 -machine "q35,accel=$ACCEL" -cpu max -smp 2 -m "${BOOT_MEM:-1536}" \
    -nographic -no-reboot -nic none "$@" -kernel "$VMLINUZ" -initrd "${BOOT_INITRD:-$WORK/initramfs.cpio}" \
    -append "console=ttyS0 rdinit=/init panic=-1 quiet${extra:+ $extra}" </dev/null 2>&1 |
    sed -u 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g' | tee "$WORK/$name.log"
  qrc=${PIPESTATUS[0]}
  set -e
  tr -d '\r' <"$WORK/$name.log" >"$WORK/$name.txt"
  [ "$qrc" = 124 ] || [ "$qrc" = 137 ] && log "QEMU timed out after ${BOOT_TIMEOUT}s ($name)"
  grep -q '^E2E DONE' "$WORK/$name.txt" || log "the guest did not finish (no 'E2E DONE' in $name; qemu exit $qrc)"
  while IFS= read -r line; do
    id=$(cut -d' ' -f2 <<<"$line")
    RESULTS+=("$id"$'\t'"$(cut -d' ' -f3 <<<"$line")"$'\t'"$(cut -d' ' -f4- <<<"$line")")
  done < <(grep -E '^E2E [0-9A-Za-z._-]+ (PASS|FAIL|SKIP) ' "$WORK/$name.txt")
}

boot serial ""
phase_done "boot + guest scenarios"

# The enforcing boot: UEFI (OVMF) with the "enrolled" certificate in db, so that S4 can load a module under
# enforcement; SeaBIOS when OVMF is not there (the guest then reports S4 as SKIP).
OVMF_CODE=${E2E_OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}
OVMF_VARS=${E2E_OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}
FIRMWARE=()
if [ "$OVMF_CODE" != none ] && [ -f "$OVMF_CODE" ] && [ -f "$OVMF_VARS" ]; then
  if node "$HERE/host/ovmf-db-vars.cjs" "$OVMF_VARS" "$KEYS/trusted.der" "$WORK/ovmf-vars.fd" 2>"$WORK/ovmf-vars.log"; then
    FIRMWARE=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE"
      -drive "if=pflash,format=raw,unit=1,file=$WORK/ovmf-vars.fd")
  else
    log "cannot write the OVMF variable store: $(cat "$WORK/ovmf-vars.log"); the enforcing boot uses SeaBIOS"
  fi
else
  log "no OVMF firmware ($OVMF_CODE): the enforcing boot uses SeaBIOS, so the kernel cannot be made to trust a test key"
fi
boot serial-enforce "module.sig_enforce=1" "${FIRMWARE[@]}"
phase_done "enforcing boot (S1 S2 S4)"

for hook in "${BOOT_HOOKS[@]}"; do
  "$hook" || log "boot hook $hook failed (its checks report FAIL or missing)"
  phase_done "boot hook $hook"
done
finish

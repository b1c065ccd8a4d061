# shellcheck shell=bash disable=SC2154 # sourced by test/e2e/ci.sh (REL, KDIR, WORK, ... are its variables)
# Leg 20 (issue #14): Falco's real driver and a real consumer, both from Debian, instead of the stand-in module.
#
#   falcosecurity-scap-dkms  the Falco libs kernel driver + legacy eBPF probe sources (/usr/src/scap-<version>/, a
#                            real dkms.conf): `apt-get download` + `dpkg-deb -x` into SHARED_CACHE/real-driver, never
#                            installed (its postinst would build and load a module on this machine).
#   sysdig                   reads the driver's events through libscap (/dev/scapN); installed here with
#                            --no-install-recommends (it pulls no module), copied into the guest with its ~90 libraries.
#
# Build machine (reported here):
#   real-compile  the loader's --compile with the real dkms (confined by test/e2e/host-bin/dkms, as host-dkms) builds
#                 the real driver for the guest kernel given only as DRIVER_KERNEL_RELEASE (no KERNELDIR: the
#                 loader points the build at /lib/modules/<release>/build, falco#3164); guest vermagic + version.
#   real-bpf      `bpf --compile` builds the probe from /usr/src/scap-<version>/bpf (clang) against the guest
#                 kernel's headers, caches it under the legacy name, links ~/.falco/scap-bpf.o; the object is a BPF
#                 ELF with every program section of the source, kernel_version = the guest release.
# Guest (test/e2e/guest/real-driver.sh, run in the normal boot): real-load, real-busy, real-upgrade, real-modprobe,
# real-clean. The older driver of real-upgrade is the same source with another DRIVER_VERSION, built once per
# kernel and cached in SHARED_CACHE/real-driver/build.
#
# Exports for the other legs (empty REAL_DRIVER_KO: preparation failed, use the stand-in): REAL_DRIVER_NAME=scap,
# REAL_DRIVER_VERSION, REAL_DRIVER_SRC (the extracted /usr/src/scap-<version> tree; read-only, copy it to build),
# REAL_DRIVER_KO (scap.ko built for the guest kernel by real-compile).

EXPECTED_IDS+=(real-compile real-bpf real-load real-busy real-upgrade real-modprobe real-clean)
REAL_DRIVER_NAME=scap REAL_DRIVER_VERSION="" REAL_DRIVER_SRC="" REAL_DRIVER_KO=""
export REAL_DRIVER_NAME REAL_DRIVER_VERSION REAL_DRIVER_SRC REAL_DRIVER_KO
RD_CACHE=$SHARED_CACHE/real-driver
RD_WORK=$WORK/real-driver
RD_SR=$WORK/real-sysroot     # real-compile's confined sysroot
RD_SRB=$WORK/real-sysroot-bpf # real-bpf's (it runs at the same time: its own HOME, lock and source copy)
RD_PKG=falcosecurity-scap-dkms
RD_OLD_V=0.1.0dev+git20211201.00000000 # real-upgrade's "older" version string (same source)
RD_GUEST_IDS=(real-load real-busy real-upgrade real-modprobe real-clean)
rm -rf "$RD_WORK" "$RD_SR" "$RD_SRB" && mkdir -p "$RD_WORK" "$RD_CACHE/debs" "$RD_CACHE/src" "$RD_CACHE/build"

rd_t0() { RD_T=$EPOCHREALTIME; }
rd_secs() { secs "$RD_T" "$EPOCHREALTIME"; }

# rd_packages: sysdig (the consumer), clang + llvm (llc) for the probe: only what is missing.
rd_packages() {
  local p missing=()
  for p in sysdig clang llvm; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} = 0 ] && return 0
  [ "$(id -u)" = 0 ] || { RD_WHY="missing packages ${missing[*]} (run as root, or apt-get install --no-install-recommends ${missing[*]})" && return 1; }
  log "real-driver: apt-get install ${missing[*]}"
  local i
  for i in 1 2; do
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 \
      "${missing[@]}" >"$RD_WORK/apt-install.log" 2>&1 && return 0
    [ "$i" = 1 ] && apt_update # stale lists: the mirror may have dropped the versions they name
  done
  RD_WHY="apt-get install ${missing[*]} failed: $(tail -n 3 "$RD_WORK/apt-install.log" | tr '\n' ' ')"
  return 1
}

# rd_source: the .deb (cached by its file name) and its extracted tree; sets REAL_DRIVER_SRC and REAL_DRIVER_VERSION.
rd_source() {
  local ver deb tmp dir v conf_v
  ver=$(apt-cache show --no-all-versions "$RD_PKG" 2>/dev/null | awk '/^Version:/ { print $2; exit }')
  if [ -z "$ver" ] && ! compgen -G "$RD_CACHE/debs/${RD_PKG}_*.deb" >/dev/null; then
    apt_update
    ver=$(apt-cache show --no-all-versions "$RD_PKG" 2>/dev/null | awk '/^Version:/ { print $2; exit }')
  fi
  if [ -n "$ver" ]; then
    deb=$(compgen -G "$RD_CACHE/debs/${RD_PKG}_${ver//:/%3a}_*.deb" | head -n 1 || true)
    if [ -z "$deb" ]; then
      log "real-driver: apt-get download $RD_PKG=$ver"
      tmp=$(mktemp -d "$RD_CACHE/debs/.download-XXXXXX")
      if ! (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$RD_PKG=$ver") >"$RD_WORK/apt-download.log" 2>&1; then
        rm -rf "$tmp"
        RD_WHY="apt-get download $RD_PKG=$ver failed: $(tail -n 2 "$RD_WORK/apt-download.log" | tr '\n' ' ')"
        return 1
      fi
      deb=$RD_CACHE/debs/$(basename "$(compgen -G "$tmp/*.deb" | head -n 1)")
      mv -f "$tmp"/*.deb "$deb" && rmdir "$tmp"
    fi
  else
    deb=$(compgen -G "$RD_CACHE/debs/${RD_PKG}_*.deb" | sort -V | tail -n 1)
    log "real-driver: apt knows no $RD_PKG; using the cached $(basename "$deb")"
  fi
  dir=$RD_CACHE/src/$(basename "$deb" .deb)
  if [ ! -f "$dir/.extracted" ]; then
    tmp=$(mktemp -d "$RD_CACHE/src/.extract-XXXXXX")
    dpkg-deb -x "$deb" "$tmp" && touch "$tmp/.extracted" || { rm -rf "$tmp" && RD_WHY="dpkg-deb -x $deb failed" && return 1; }
    mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp" # another run may have won the rename
  fi
  REAL_DRIVER_SRC=$(compgen -G "$dir/usr/src/scap-*" | head -n 1 || true)
  [ -f "$REAL_DRIVER_SRC/dkms.conf" ] || { RD_WHY="no usr/src/scap-*/dkms.conf in $deb" && return 1; }
  v=${REAL_DRIVER_SRC##*/scap-}
  conf_v=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$REAL_DRIVER_SRC/dkms.conf")
  [ "$conf_v" = "$v" ] && grep -qxF "#define DRIVER_VERSION \"$v\"" "$REAL_DRIVER_SRC/driver_config.h" ||
    { RD_WHY="$REAL_DRIVER_SRC: dkms.conf says '$conf_v', driver_config.h $(grep -m1 'define DRIVER_VERSION' "$REAL_DRIVER_SRC/driver_config.h")" && return 1; }
  REAL_DRIVER_VERSION=$v
  RD_DEB=$(basename "$deb")
}

# rd_loader <sysroot> <log> <args...>: the loader on the build machine, confined to a sysroot (the stand-in
# insmod/lsmod/rmmod and the confined dkms of test/e2e/host-bin); sets RD_RC.
rd_loader() {
  local sr=$1 log=$2
  shift 2
  set +e
  env -i PATH="$HERE/host-bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" HOME="$sr/home" TMPDIR="$sr/tmp" \
    HOST_ROOT="$WORK/hostroot" FALCO_DRIVER_LOADER_SYSROOT="$sr" E2E_KERNELSOURCEDIR="$KDIR" \
    DRIVER_NAME=scap DRIVER_KERNEL_RELEASE="$REL" DRIVER_KERNEL_VERSION="$UNAME_V" DRIVER_VERSION="$REAL_DRIVER_VERSION" \
    DRIVERS_REPO=http://127.0.0.1:9 FALCO_DRIVER_LOADER_FALCOCTL=never FALCO_DRIVER_LOADER_RMMOD_WAIT_SECONDS=0 \
    "${LOADER_CMD[@]}" "$@" >"$log" 2>&1
  RD_RC=$?
  set -e
  sed 's/^/    | /' "$log"
  echo "    | (exit $RD_RC)"
}

rd_pe() { sed -n "s/^$1=\"\(.*\)\"\$/\1/p" "$RD_WORK/print-env.txt"; }
rd_sysroot() {
  local sr
  for sr in "$RD_SR" "$RD_SRB"; do
    mkdir -p "$sr/usr/src" "$sr/var/lib/dkms" "$sr/lib/modules/$REL" "$sr/tmp" "$sr/home" \
      "$sr/sys/kernel/debug/tracing" || return 1 # the bpf flow mounts debugfs when tracing/ is missing: never here
    touch "$sr/.e2e-sysroot"
    cp -r "$REAL_DRIVER_SRC" "$sr/usr/src/" || return 1
    ln -s "$KDIR" "$sr/lib/modules/$REL/build"
  done
  # The legacy file name for the driver, from the loader itself (host-naming checked the rule for this kernel).
  env -i PATH=/usr/bin:/bin HOME="$RD_WORK" HOST_ROOT="$WORK/hostroot" DRIVER_NAME=scap DRIVER_KERNEL_RELEASE="$REL" \
    DRIVER_KERNEL_VERSION="$UNAME_V" DRIVER_VERSION="$REAL_DRIVER_VERSION" FALCO_DRIVER_LOADER_FALCOCTL=never \
    "${LOADER_CMD[@]}" --print-env >"$RD_WORK/print-env.txt" 2>&1 || { RD_WHY="--print-env: $(cat "$RD_WORK/print-env.txt")" && return 1; }
  RD_BASE="$(rd_pe DRIVER_NAME)_$(rd_pe TARGET_ID)_$(rd_pe KERNEL_RELEASE)_$(rd_pe KERNEL_VERSION)"
  [ "$RD_BASE.ko" = "scap_${FILE#falco_}" ] || { RD_WHY="the loader names the real driver $RD_BASE.ko, the stand-in was $FILE" && return 1; }
}

# ------------------------------------------------------------------------------------------------- real-compile
rd_compile() {
  local why=() ko make_log
  rd_t0
  snapshot >"$RD_WORK/system-before.txt"
  rd_loader "$RD_SR" "$RD_WORK/compile.log" --compile
  snapshot >"$RD_WORK/system-after.txt"
  RD_COMPILE_S=$(rd_secs)
  ko=$RD_SR/var/lib/dkms/scap/$REAL_DRIVER_VERSION/$REL/x86_64/module/scap.ko
  make_log=$RD_SR/var/lib/dkms/scap/$REAL_DRIVER_VERSION/$REL/x86_64/log/make.log
  [ "$RD_RC" = 0 ] || why+=("exit $RD_RC")
  # The wrapper lives in a fresh mkdtemp directory (falco-dkms-make-XXXXXX/make, issue #13): its random part is normalised.
  sed 's#/falco-dkms-make-[A-Za-z0-9]*/make#/falco-dkms-make-XXXXXX/make#' "$RD_SR/dkms.log" 2>/dev/null |
    grep -qxF "install --directive=MAKE='$RD_SR/tmp/falco-dkms-make-XXXXXX/make' -m scap -v $REAL_DRIVER_VERSION -k $REL" ||
    why+=("dkms not called as expected: $(tr '\n' ' ' <"$RD_SR/dkms.log" 2>/dev/null)")
  [ -f "$ko" ] || why+=("no $ko")
  [ -f "$RD_SR/lib/modules/$REL/updates/dkms/scap.ko" ] || why+=("dkms did not install into the confined install tree")
  case "$(modinfo -F vermagic "$ko" 2>/dev/null)" in "$REL "*) ;; *) why+=("vermagic '$(modinfo -F vermagic "$ko" 2>/dev/null)' is not for $REL") ;; esac
  [ "$(modinfo -F version "$ko" 2>/dev/null)" = "$REAL_DRIVER_VERSION" ] || why+=("version '$(modinfo -F version "$ko" 2>/dev/null)', wanted $REAL_DRIVER_VERSION")
  [ "$(modinfo -F name "$ko" 2>/dev/null)" = scap ] || why+=("module name '$(modinfo -F name "$ko" 2>/dev/null)'")
  grep -q 'CC \[M\].*ppm_fillers\.o' "$make_log" 2>/dev/null || why+=("no compile of the real sources in dkms' make.log")
  grep -qF "Entering directory '$KDIR'" "$make_log" 2>/dev/null || why+=("make.log does not show a build in the guest kernel's headers $KDIR")
  grep -qF "* Success: scap module found and loaded in dkms" "$RD_WORK/compile.log" || why+=("no DKMS success line")
  grep -qxF "$ko" "$RD_SR/insmod.log" 2>/dev/null || why+=("insmod (stand-in) was not given $ko")
  diff -u "$RD_WORK/system-before.txt" "$RD_WORK/system-after.txt" >"$RD_WORK/system-diff.txt" ||
    why+=("the build machine changed: $(head -c 500 "$RD_WORK/system-diff.txt")")
  if [ ${#why[@]} = 0 ]; then
    cp "$ko" "$RD_WORK/scap.ko"
    REAL_DRIVER_KO=$RD_WORK/scap.ko
    result real-compile PASS "loader --compile (DRIVER_NAME=scap, DRIVER_KERNEL_RELEASE=$REL, no KERNELDIR) -> real dkms built $RD_DEB's scap.ko, $(($(stat -c %s "$ko") / 1024)) KiB, vermagic '$(modinfo -F vermagic "$ko")', version $REAL_DRIVER_VERSION, in ${RD_COMPILE_S}s; build machine unchanged"
  else
    result real-compile FAIL "$(printf '%s; ' "${why[@]}")"
  fi
}

# rd_old: the same source under RD_OLD_V, for real-upgrade; built once per kernel + source, then cached.
rd_old() {
  local key=$RD_CACHE/build/$REL-$KVER-${RD_DEB%.deb} tmp src
  RD_OLD_KO=$key/scap-old.ko
  [ -f "$RD_OLD_KO" ] && [ "$(modinfo -F version "$RD_OLD_KO" 2>/dev/null)" = "$RD_OLD_V" ] && return 0
  rd_t0
  src=$RD_WORK/old-src
  rm -rf "$src" && cp -r "$REAL_DRIVER_SRC" "$src"
  sed -i "s|^#define DRIVER_VERSION \".*\"|#define DRIVER_VERSION \"$RD_OLD_V\"|" "$src/driver_config.h"
  make -C "$KDIR" M="$src" -j2 modules >"$RD_WORK/old-make.log" 2>&1 || { RD_WHY="building the older driver failed: $(tail -n 5 "$RD_WORK/old-make.log" | tr '\n' ' ')" && return 1; }
  [ "$(modinfo -F version "$src/scap.ko")" = "$RD_OLD_V" ] || { RD_WHY="the older driver's version is $(modinfo -F version "$src/scap.ko")" && return 1; }
  mkdir -p "$key" && tmp=$(mktemp "$key/.scap-old-XXXXXX")
  cp "$src/scap.ko" "$tmp" && mv -f "$tmp" "$RD_OLD_KO"
  rm -rf "$src"
  log "real-driver: built the older driver ($RD_OLD_V) in $(rd_secs)s, cached $RD_OLD_KO"
}

# ----------------------------------------------------------------------------------------------------- real-bpf
# Runs in the background, beside real-compile (each build is one compiler at a time; there are two cores): writes
# its verdict to $RD_WORK/bpf.result, reported by rd_bpf_report.
rd_bpf() {
  local why=() probe link bpf_src want=() missing=() s sections kv pv
  rd_t0
  rd_loader "$RD_SRB" "$RD_WORK/bpf.log" bpf --compile
  RD_BPF_S=$(rd_secs)
  probe=$RD_SRB/home/.falco/$REAL_DRIVER_VERSION/x86_64/$RD_BASE.o
  link=$RD_SRB/home/.falco/scap-bpf.o
  bpf_src=$REAL_DRIVER_SRC/bpf
  [ "$RD_RC" = 0 ] || why+=("exit $RD_RC")
  grep -qF "* Trying to compile the eBPF probe ($RD_BASE.o)" "$RD_WORK/bpf.log" || why+=("no compile line for $RD_BASE.o")
  [ -f "$probe" ] || why+=("no $probe")
  [ "$(readlink "$link" 2>/dev/null)" = "$probe" ] || why+=("$link -> '$(readlink "$link" 2>/dev/null)', wanted $probe")
  readelf -h "$probe" 2>/dev/null | grep -Eq 'Machine:[[:space:]]+Linux BPF' || why+=("not a BPF ELF: $(readelf -h "$probe" 2>&1 | grep -E 'Machine|Error' | head -n 1)")
  # Every program of the source: BPF_PROBE(prefix, event, ...) in probe.c and FILLER(name, ...)/FILLER_RAW(name) in
  # fillers.h, as raw tracepoints (6.1 has them); plus the sections libscap reads.
  mapfile -t want < <(
    sed -n 's/^BPF_PROBE("[^"]*", *\([A-Za-z0-9_]*\),.*/raw_tracepoint\/\1/p' "$bpf_src/probe.c"
    sed -n 's/^FILLER(\([A-Za-z0-9_]*\),.*/raw_tracepoint\/filler\/\1/p; s/^FILLER_RAW(\([A-Za-z0-9_]*\)).*/raw_tracepoint\/filler\/\1/p' "$bpf_src/fillers.h"
    printf '%s\n' maps license probe_version kernel_version
  )
  sections=$(readelf -S -W "$probe" 2>/dev/null | sed -n 's/^ *\[ *[0-9]*\] \([^ ]*\) .*/\1/p' || true)
  for s in "${want[@]}"; do grep -qxF "$s" <<<"$sections" || missing+=("$s"); done
  [ ${#want[@]} -gt 50 ] || why+=("only ${#want[@]} sections found in the source")
  [ ${#missing[@]} = 0 ] || why+=("${#missing[@]} of ${#want[@]} program sections missing: ${missing[*]:0:5}")
  kv=$(readelf -p kernel_version "$probe" 2>/dev/null | sed -n 's/^ *\[ *0\] *//p' || true)
  pv=$(readelf -p probe_version "$probe" 2>/dev/null | sed -n 's/^ *\[ *0\] *//p' || true)
  [ "$kv" = "$REL" ] || why+=("kernel_version section '$kv', wanted $REL")
  [ "$pv" = "$REAL_DRIVER_VERSION" ] || why+=("probe_version section '$pv', wanted $REAL_DRIVER_VERSION")
  if [ ${#why[@]} = 0 ]; then
    printf 'PASS\t%s\n' "loader bpf --compile -> clang $(clang --version | sed -n 's/.*clang version \([0-9.]*\).*/\1/p;q') built ~/.falco/$REAL_DRIVER_VERSION/x86_64/$RD_BASE.o ($(($(stat -c %s "$probe") / 1024)) KiB, ELF machine Linux BPF, all ${#want[@]} sections of the source, kernel_version $kv) in ${RD_BPF_S}s; ~/.falco/scap-bpf.o links to it" >"$RD_WORK/bpf.result"
  else
    printf 'FAIL\t%s\n' "$(printf '%s; ' "${why[@]}")" >"$RD_WORK/bpf.result"
  fi
}
rd_bpf_report() {
  local status detail
  wait "$RD_BPF_PID" || true
  cat "$RD_WORK/bpf.out"
  IFS=$'\t' read -r status detail <"$RD_WORK/bpf.result" 2>/dev/null || status=""
  if [ -n "$status" ]; then result real-bpf "$status" "$detail"; else result real-bpf FAIL "no verdict (see $RD_WORK/bpf.out)"; fi
}

# ---------------------------------------------------------------------------------------------------- staging
rd_stage() {
  local ir=$1 lib
  mkdir -p "$ir/e2e/real/tree" "$ir/srv/repo-real/$REAL_DRIVER_VERSION/x86_64" || return 1
  cp "$REAL_DRIVER_KO" "$ir/srv/repo-real/$REAL_DRIVER_VERSION/x86_64/$RD_BASE.ko" || return 1
  cp "$RD_OLD_KO" "$ir/e2e/real/scap-old.ko" || return 1
  # What `dkms install` left in the (confined) /lib/modules/<release>: real-modprobe puts it in the guest's.
  cp -r "$RD_SR/lib/modules/$REL/updates" "$ir/e2e/real/tree/" || return 1
  cp "$(command -v sysdig)" "$ir/usr/bin/sysdig" || return 1
  for lib in $(ldd "$(command -v sysdig)" | grep -o '/[^ ]*\.so[^ ]*' | sort -u); do
    [ -e "$ir$lib" ] || { mkdir -p "$ir$(dirname "$lib")" && cp -L "$lib" "$ir$lib"; } || return 1
  done
  cat >"$ir/e2e/real/env" <<EOF
RD_V='$REAL_DRIVER_VERSION'
RD_OLD_V='$RD_OLD_V'
RD_FILE='$RD_BASE.ko'
RD_SIZE='$(stat -c %s "$REAL_DRIVER_KO")'
RD_SYSDIG='$(sysdig --version | head -n 1)'
EOF
  cp "$HERE/guest/real-driver.sh" "$ir/e2e/guest.d/20-real-driver.sh"
}

# -------------------------------------------------------------------------------------------------------- run
RD_WHY=""
if rd_packages && rd_source && rd_sysroot; then
  log "real-driver: $RD_DEB -> $REAL_DRIVER_SRC (DRIVER_VERSION $REAL_DRIVER_VERSION), file $RD_BASE.ko"
  (rd_bpf) >"$RD_WORK/bpf.out" 2>&1 &
  RD_BPF_PID=$!
  rd_compile
  rd_old || log "real-driver: $RD_WHY"
  rd_bpf_report
else
  result real-compile FAIL "not run: $RD_WHY"
  result real-bpf FAIL "not run: $RD_WHY"
fi
if [ -n "$REAL_DRIVER_KO" ] && [ -f "${RD_OLD_KO:-}" ]; then
  STAGE_HOOKS+=(rd_stage)
else
  for id in "${RD_GUEST_IDS[@]}"; do result "$id" FAIL "not run: ${RD_WHY:-real-compile failed}"; done
fi

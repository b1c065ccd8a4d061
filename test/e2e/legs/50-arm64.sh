# shellcheck shell=bash
# Leg 50-arm64 (issue #20), sourced by test/e2e/ci.sh: the aarch64 single executable on Debian's arm64 kernel, in its
# own boot under qemu-system-aarch64 (TCG), with its own small initramfs and /init (test/e2e/guest/arm64-init).
#
# Build machine:
# - packages qemu-system-arm and gcc-aarch64-linux-gnu (only what is missing); the arm64 dpkg architecture is added
#   when it is not there yet (apt then needs one more `apt-get update`);
# - apt-get download (never installed) under $SHARED_CACHE/arm64/debs: linux-image-<rel>-arm64 (only /boot is
#   used), linux-headers-<rel>-arm64 + linux-headers-<rel>-common, and the build machine's own linux-kbuild-6.1
#   (Multi-Arch: foreign, so it satisfies the arm64 headers' dependency: fixdep, modpost, genksyms are host tools and
#   modpost reads aarch64 objects; the arm64 linux-kbuild's binaries would need qemu-user and binfmt_misc); the
#   guest's userland busybox-static, kmod (the loader needs kmod's insmod/modinfo, as on a host), libc6, libstdc++6,
#   libgcc-s1 and kmod's libraries (liblzma5, libzstd1, libssl3), all :arm64. Each set is unpacked once with
#   dpkg-deb -x into a tree named after its versions (temp dir + rename);
# - cross-compiles test/e2e/module (name falco) with aarch64-linux-gnu-gcc against those headers: ELF machine 183,
#   vermagic "<rel> SMP mod_unload modversions aarch64";
# - the expected file name by Debian's rule, independently of the loader: `uname -v` read from the Image's banner
#   ("Linux version <rel> (...) #N SMP Debian X.Y.Z-N (date)"), as host-naming does for the x86_64 kernel;
# - the aarch64 single executable dist/falco-driver-loader-<version>-aarch64 (rebuilt with packaging/build-sea.mjs
#   --arch aarch64 when older than src/), whatever E2E_LOADER says: there is no other aarch64 loader to test.
# Guest (one boot): busybox httpd serves the arm64 module (127.0.0.1:8080), the x86_64 stand-in under the same
# name (:8081) and the arm64 module with another release's vermagic (:8082); scenarios arm64-naming, arm64-load, arm64-foreign, arm64-modern (see the guest script).
#
# CPU model: `-cpu max,pauth=off`. `-cpu max` emulates pointer authentication with the QARMA cipher, which made the
# same boot 5-10x slower under TCG here (e.g. 132 s against 14 s for boot + one --version); the kernel and Node run
# without it. E2E_ARM64_CPU overrides it.
EXPECTED_IDS+=(arm64-naming arm64-load arm64-foreign arm64-modern)
ARM64_IDS=(arm64-naming arm64-load arm64-foreign arm64-modern)
ARM64_CACHE=$SHARED_CACHE/arm64
ARM64_WORK=$WORK/arm64
ARM64_CPU=${E2E_ARM64_CPU:-max,pauth=off}
ARM64_USERLAND=(busybox-static kmod libc6 libstdc++6 libgcc-s1 liblzma5 libzstd1 libssl3)
ARM64_WHY=

arm64_fail_all() { # reason: every arm64 id FAILs with it (the leg cannot run)
  local id
  for id in "${ARM64_IDS[@]}"; do result "$id" FAIL "$1"; done
}

# arm64_apt_ready: the arm64 architecture is known to dpkg, and the build machine has the leg's tools.
arm64_apt_ready() {
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    [ "$(id -u)" = 0 ] || { ARM64_WHY="dpkg has no arm64 architecture: run as root, or: sudo dpkg --add-architecture arm64 && sudo apt-get update"; return 1; }
    log "dpkg --add-architecture arm64"
    dpkg --add-architecture arm64
    APT_UPDATED=0 # the lists read before have no arm64 packages
  fi
  local missing=() p
  for p in qemu-system-arm gcc-aarch64-linux-gnu; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} = 0 ] && return 0
  [ "$(id -u)" = 0 ] || { ARM64_WHY="missing packages ${missing[*]}: sudo apt-get install --no-install-recommends ${missing[*]}"; return 1; }
  apt_update
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" \
    >"$ARM64_WORK/apt-install.log" 2>&1 || { ARM64_WHY="apt-get install ${missing[*]} failed: $(tail -n 3 "$ARM64_WORK/apt-install.log" | tr '\n' ' ')"; return 1; }
}

# arm64_resolve: ARM_KPKG/ARM_REL/ARM_KVER and ARM_VER[<package>]=<candidate version> for every .deb the leg uses,
# from apt's current lists (three apt-cache calls: each one reads the whole cache, seconds on a busy machine).
arm64_resolve() {
  ARM_KPKG=${E2E_ARM64_KERNEL_PACKAGE:-}
  [ -n "$ARM_KPKG" ] ||
    ARM_KPKG=$(apt-cache depends linux-image-arm64:arm64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { sub(/:arm64$/, "", $2); print $2; exit }')
  [ -n "$ARM_KPKG" ] || return 1
  ARM_REL=${ARM_KPKG#linux-image-}
  local deps
  deps=$(apt-cache depends "linux-headers-$ARM_REL:arm64" 2>/dev/null | awk '$1 == "Depends:" { gsub(/[<>]/, "", $2); sub(/:arm64$/, "", $2); print $2 }')
  ARM_COMMON=$(grep -m1 -E '^linux-headers-.*-common$' <<<"$deps") || return 1
  ARM_KBUILD=$(grep -m1 -E '^linux-kbuild-' <<<"$deps") || return 1
  # name[:arch] as apt-get download takes it; the kbuild tools in the build machine's own arch (see the header).
  ARM_DEBS=("$ARM_KPKG:arm64" "linux-headers-$ARM_REL:arm64" "$ARM_COMMON" "$ARM_KBUILD")
  local p
  for p in "${ARM64_USERLAND[@]}"; do ARM_DEBS+=("$p:arm64"); done
  declare -gA ARM_VER=()
  local name arch ver
  while read -r name arch ver; do
    [ "$arch" = arm64 ] && name=$name:arm64
    ARM_VER[$name]=$ver
  done < <(apt-cache show --no-all-versions "${ARM_DEBS[@]}" 2>/dev/null |
    awk '/^Package:/ { p = $2 } /^Architecture:/ { a = $2 } /^Version:/ { v = $2 } /^$/ && p != "" { print p, a, v; p = "" } END { if (p != "") print p, a, v }')
  for p in "${ARM_DEBS[@]}"; do [ -n "${ARM_VER[$p]:-}" ] || return 1; done
  ARM_KVER=${ARM_VER[$ARM_KPKG:arm64]}
}

# arm64_deb <name[:arch]>: the cached .deb of the resolved version (apt writes an epoch's ':' as %3a).
arm64_deb() {
  local p=$1 v=${ARM_VER[$1]}
  compgen -G "$ARM64_CACHE/debs/${p%%:*}_${v/:/%3a}_*.deb" | head -n 1
}

# arm64_need: ARM_NEED, the resolved .debs that are not in the cache yet (as name[:arch]=version).
arm64_need() {
  local p
  ARM_NEED=()
  for p in "${ARM_DEBS[@]}"; do [ -n "$(arm64_deb "$p")" ] || ARM_NEED+=("$p=${ARM_VER[$p]}"); done
}

arm64_download() {
  local need=("${ARM_NEED[@]}") p tmp
  mkdir -p "$ARM64_CACHE/debs"
  [ ${#need[@]} = 0 ] && return 0
  log "apt-get download ${need[*]}"
  tmp=$(mktemp -d "$ARM64_CACHE/debs/.dl.XXXXXX")
  chmod 755 "$tmp"
  if ! (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "${need[@]}") >"$ARM64_WORK/apt-download.log" 2>&1; then
    rm -rf "$tmp"
    ARM64_WHY="apt-get download failed: $(tail -n 3 "$ARM64_WORK/apt-download.log" | tr '\n' ' ')"
    return 1
  fi
  for p in "$tmp"/*.deb; do mv -f "$p" "$ARM64_CACHE/debs/"; done
  rmdir "$tmp"
}

# arm64_tree <dir> <debs...>: unpacks the .debs into <dir> once (temp dir + rename, so concurrent runs are safe).
arm64_tree() {
  local dir=$1 tmp p
  shift
  [ -f "$dir/.extracted" ] && return 0
  tmp=$(mktemp -d "$ARM64_CACHE/.tree.XXXXXX")
  for p in "$@"; do
    if [ "${p%%:*}" = "$ARM_KPKG" ]; then # the image is mostly modules: only /boot is needed
      dpkg-deb --fsys-tarfile "$(arm64_deb "$p")" | tar -x -C "$tmp" --wildcards './boot/*' || { rm -rf "$tmp"; return 1; }
    else
      dpkg-deb -x "$(arm64_deb "$p")" "$tmp" || { rm -rf "$tmp"; return 1; }
    fi
  done
  # Debian's per-flavour Makefile includes the -common one by absolute path: point it at the tree's final place.
  local mk=$tmp/usr/src/linux-headers-$ARM_REL/Makefile
  [ -f "$mk" ] && sed -i "s|^include /usr/src/|include $dir/usr/src/|" "$mk"
  touch "$tmp/.extracted"
  mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp" # another run may have put it there first
  [ -f "$dir/.extracted" ]
}

# arm64_prune: superseded .debs go; so do trees of other versions not used for a day (a concurrent run in another
# clone may still be booting one that was current a minute ago).
arm64_prune() {
  local keep=() p f
  for p in "${ARM_DEBS[@]}"; do keep+=("$(arm64_deb "$p")"); done
  for f in "$ARM64_CACHE"/debs/*.deb; do
    [ -e "$f" ] || continue
    printf '%s\n' "${keep[@]}" | grep -qxF "$f" || rm -f "$f"
  done
  find "$ARM64_CACHE" -mindepth 1 -maxdepth 1 -type d \( -name 'kernel-*' -o -name 'userland-*' \) -mtime +0 \
    ! -path "$ARM_KROOT" ! -path "$ARM_UL" -exec rm -rf {} + 2>/dev/null || true
  touch "$ARM_KROOT" "$ARM_UL"
}

arm64_prepare() {
  rm -rf "$ARM64_WORK" && mkdir -p "$ARM64_WORK" "$ARM64_CACHE"
  arm64_apt_ready || return 1
  if ! arm64_resolve; then
    [ "$(id -u)" = 0 ] && [ "$APT_UPDATED" = 0 ] && apt_update
    arm64_resolve || { ARM64_WHY="cannot resolve Debian's arm64 kernel packages (apt-cache depends linux-image-arm64:arm64)"; return 1; }
  fi
  arm64_need
  # Fresh lists before downloading anything: the mirror drops superseded kernels.
  if [ ${#ARM_NEED[@]} -gt 0 ] && [ "$APT_UPDATED" = 0 ] && [ "$(id -u)" = 0 ]; then
    apt_update
    arm64_resolve || { ARM64_WHY="cannot resolve Debian's arm64 kernel packages after apt-get update"; return 1; }
    arm64_need
  fi
  arm64_download || return 1
  ARM_KROOT=$ARM64_CACHE/kernel-$ARM_REL-$ARM_KVER
  local ulkey p
  ulkey=$(for p in "${ARM64_USERLAND[@]}"; do echo "$p=${ARM_VER[$p:arm64]}"; done | sha256sum | cut -c1-16)
  ARM_UL=$ARM64_CACHE/userland-$ulkey
  local kdebs=("$ARM_KPKG:arm64" "linux-headers-$ARM_REL:arm64" "$ARM_COMMON" "$ARM_KBUILD") uldebs=()
  for p in "${ARM64_USERLAND[@]}"; do uldebs+=("$p:arm64"); done
  arm64_tree "$ARM_KROOT" "${kdebs[@]}" || { ARM64_WHY="cannot unpack the arm64 kernel packages into $ARM_KROOT"; return 1; }
  arm64_tree "$ARM_UL" "${uldebs[@]}" || { ARM64_WHY="cannot unpack the arm64 userland into $ARM_UL"; return 1; }
  ARM_VMLINUZ=$ARM_KROOT/boot/vmlinuz-$ARM_REL
  ARM_KDIR=$ARM_KROOT/usr/src/linux-headers-$ARM_REL
  [ -f "$ARM_VMLINUZ" ] || { ARM64_WHY="no $ARM_VMLINUZ"; return 1; }
  arm64_prune

  # uname -r / uname -v of the guest, from the kernel's banner (arm64 Images are not bzImages: no header field).
  local img=$ARM_VMLINUZ banner
  if [ "$(head -c 2 "$img" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then
    zcat "$img" >"$ARM64_WORK/Image" && img=$ARM64_WORK/Image
  fi
  banner=$(grep -a -o -E "Linux version $ARM_REL \(.*\) #[0-9]+ .*" "$img" | head -n 1 || true)
  [ -n "$banner" ] || { ARM64_WHY="no 'Linux version $ARM_REL (...) #N ...' banner in $ARM_VMLINUZ"; return 1; }
  ARM_UNAME_V="#${banner#*) #}"
  # Debian's rule, as host-naming computes it: the version in `uname -v` + the flavour of `uname -r`, and the
  # build number of `uname -v`.
  local deb_ver flavour build_no
  deb_ver=$(sed -n 's/.*Debian \([0-9]*\.[0-9]*\.[0-9]*-[0-9]*\).*/\1/p' <<<"$ARM_UNAME_V")
  flavour=$(sed -E 's/^[0-9]+\.[0-9]+\.[0-9]+-[0-9]+-//' <<<"$ARM_REL")
  build_no=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$ARM_UNAME_V")
  [ -n "$deb_ver" ] && [ -n "$build_no" ] || { ARM64_WHY="uname -v '$ARM_UNAME_V' has no 'Debian X.Y.Z-N' or build number"; return 1; }
  ARM_FILE="falco_debian_${deb_ver}-${flavour}_${build_no}.ko"
  log "arm64 guest kernel: $ARM_KPKG $ARM_KVER; uname -r: $ARM_REL; uname -v: $ARM_UNAME_V; Debian's rule: $ARM_FILE"
  grep -qx 'CONFIG_DEBUG_INFO_BTF=y' "$ARM_KROOT/boot/config-$ARM_REL" && ARM_BTF=y || ARM_BTF=n

  # The module, cross-compiled. The amd64 kbuild tools sit where the arm64 headers' scripts/ symlink points.
  local mb=$ARM64_WORK/module-build
  mkdir -p "$mb" && cp "$HERE"/module/* "$mb/"
  make -C "$ARM_KDIR" M="$mb" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- modules >"$ARM64_WORK/module-make.log" 2>&1 ||
    { ARM64_WHY="cross-compiling test/e2e/module for $ARM_REL failed: $(tail -n 5 "$ARM64_WORK/module-make.log" | tr '\n' ' ')"; return 1; }
  ARM_KO=$mb/falco.ko
  local machine vermagic
  machine=$(od -An -tu2 -j18 -N2 "$ARM_KO" | tr -d ' ')
  vermagic=$(modinfo -F vermagic "$ARM_KO")
  [ "$machine" = 183 ] || { ARM64_WHY="$ARM_KO: ELF machine $machine, not 183 (aarch64)"; return 1; }
  case "$vermagic" in "$ARM_REL "*aarch64*) ;; *) ARM64_WHY="$ARM_KO: vermagic '$vermagic' is not for $ARM_REL aarch64"; return 1 ;; esac
  [ "$(modinfo -F version "$ARM_KO")" = "$DV" ] || { ARM64_WHY="$ARM_KO: version is not $DV"; return 1; }
  # The same module with a vermagic naming another release of the same length (6.1.0-57-arm64 -> 6.1.0-99-arm64):
  # only the loader's vermagic check stops it (Debian's kernels have CONFIG_MODVERSIONS).
  local abi other
  abi=$(sed -E 's/^[0-9]+\.[0-9]+\.[0-9]+-([0-9]+)-.*/\1/' <<<"$ARM_REL")
  other=$(printf "%${#abi}s" | tr ' ' 9)
  [ "$other" = "$abi" ] && other=$(printf "%${#abi}s" | tr ' ' 1)
  ARM_WRONG_REL=${ARM_REL/-$abi-/-$other-}
  ARM_WRONG=$ARM64_WORK/wrong-vermagic.ko
  node -e '
    const fs = require("node:fs");
    const [src, dst, rel, wrong] = process.argv.slice(1);
    const buf = fs.readFileSync(src);
    const from = Buffer.from(`vermagic=${rel} `);
    const at = buf.indexOf(from);
    if (at < 0 || buf.indexOf(from, at + 1) >= 0 || wrong.length !== rel.length) process.exit(1);
    Buffer.from(`vermagic=${wrong} `).copy(buf, at);
    fs.writeFileSync(dst, buf);
  ' "$ARM_KO" "$ARM_WRONG" "$ARM_REL" "$ARM_WRONG_REL" || { ARM64_WHY="cannot rewrite the vermagic of $ARM_KO"; return 1; }
  case "$(modinfo -F vermagic "$ARM_WRONG")" in "$ARM_WRONG_REL "*) ;; *) ARM64_WHY="$ARM_WRONG: vermagic not rewritten"; return 1 ;; esac
  ARM_FOREIGN=${GOOD:-$WORK/module-build/falco.ko}
  [ "$(od -An -tu2 -j18 -N2 "$ARM_FOREIGN" | tr -d ' ')" = 62 ] || { ARM64_WHY="$ARM_FOREIGN is not an x86_64 module"; return 1; }
  log "arm64 module: $(stat -c %s "$ARM_KO") bytes, ELF machine 183, vermagic $vermagic"

  arm64_loader || return 1
  arm64_initramfs
}

# arm64_loader: ARM_SEA, the aarch64 single executable, fresh (not older than src/ and the lockfile).
arm64_loader() {
  ARM_SEA=$ROOT/dist/falco-driver-loader-$PKG_VERSION-aarch64
  arm_sea_fresh() { [ -x "$ARM_SEA" ] && awk -v a="$(stat -c %Y "$ARM_SEA")" -v b="$newest_src" 'BEGIN { exit !(a >= b) }'; }
  if ! arm_sea_fresh; then
    log "building the aarch64 single executable: node packaging/build-sea.mjs --arch aarch64"
    (cd "$ROOT" && node packaging/build-sea.mjs --arch aarch64) >"$ARM64_WORK/build-sea.log" 2>&1 ||
      { ARM64_WHY="the aarch64 single executable did not build: $(tail -n 3 "$ARM64_WORK/build-sea.log" | tr '\n' ' ')"; return 1; }
    arm_sea_fresh || { ARM64_WHY="$ARM_SEA is missing or older than src/ after build-sea.mjs"; return 1; }
  fi
  [ "$(od -An -tu2 -j18 -N2 "$ARM_SEA" | tr -d ' ')" = 183 ] || { ARM64_WHY="$ARM_SEA is not an aarch64 executable"; return 1; }
}

# arm64_libs <root> <elf...>: copies the shared libraries the ELFs need (DT_NEEDED, transitively) from the arm64
# userland tree into <root>, at the same paths.
arm64_libs() {
  local root=$1 f n d found
  shift
  local queue=("$@")
  declare -A seen=()
  while [ ${#queue[@]} -gt 0 ]; do
    f=${queue[0]}
    queue=("${queue[@]:1}")
    for n in $(readelf -d "$f" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
      [ -n "${seen[$n]:-}" ] && continue
      seen[$n]=1
      found=
      for d in lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu; do
        if [ -e "$ARM_UL/$d/$n" ]; then
          mkdir -p "$root/$d" && cp -L "$ARM_UL/$d/$n" "$root/$d/$n"
          queue+=("$root/$d/$n")
          found=1
          break
        fi
      done
      [ -n "$found" ] || { ARM64_WHY="$n (needed by $(basename "$f")) is not in the arm64 userland ${ARM64_USERLAND[*]}"; return 1; }
    done
  done
  # The program interpreter, by the path the executables ask for.
  ln -sf aarch64-linux-gnu/ld-linux-aarch64.so.1 "$root/lib/ld-linux-aarch64.so.1"
}

arm64_initramfs() {
  local ir=$ARM64_WORK/initramfs t
  mkdir -p "$ir"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,etc,e2e/bin,lib}
  cp "$ARM_UL/bin/busybox" "$ir/bin/busybox"
  ln -s busybox "$ir/bin/sh" # the guest's /init links the other applets (it can run busybox --install)
  cp "$(readlink -f "$ARM_UL/bin/kmod")" "$ir/usr/bin/kmod"
  for t in insmod rmmod lsmod modprobe depmod modinfo; do ln -s ../bin/kmod "$ir/usr/sbin/$t"; done
  cp "$ARM_SEA" "$ir/usr/bin/falco-driver-loader"
  arm64_libs "$ir" "$ir/usr/bin/kmod" "$ir/usr/bin/falco-driver-loader" || return 1
  local vpath=$DV/aarch64
  mkdir -p "$ir/srv/repo-arm64/$vpath" "$ir/srv/repo-wrong/$vpath" "$ir/srv/repo-foreign/$vpath"
  cp "$ARM_KO" "$ir/srv/repo-arm64/$vpath/$ARM_FILE"
  cp "$ARM_WRONG" "$ir/srv/repo-wrong/$vpath/$ARM_FILE"
  cp "$ARM_FOREIGN" "$ir/srv/repo-foreign/$vpath/$ARM_FILE"
  cp "$WORK/hostroot/etc/os-release" "$ir/etc/os-release" # a Debian 12 host: no HOST_ROOT, as on a real arm64 host
  cp "$HERE/guest/arm64-init" "$ir/init" && chmod 755 "$ir/init"
  cat >"$ir/e2e/env" <<EOF
FILE='$ARM_FILE'
SERVED_VERSION='$DV'
EXPECT_RELEASE='$ARM_REL'
EXPECT_UNAME_V='$ARM_UNAME_V'
EXPECT_BTF='$ARM_BTF'
WRONG_RELEASE='$ARM_WRONG_REL'
LOADER_KIND='$(basename "$ARM_SEA")'
EOF
  (cd "$ir" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) >"$ARM64_WORK/initramfs.cpio" ||
    { ARM64_WHY="cpio could not pack $ir"; return 1; }
  log "arm64 initramfs: $(($(stat -c %s "$ARM64_WORK/initramfs.cpio") / 1048576)) MiB ($(find "$ir" -type f | wc -l) files)"
  rm -rf "$ir"
}

# arm64_boot (a BOOT_HOOK): one boot; the console goes to $WORK/arm64/boot.log (.txt without CRs); the guest's
# `E2E arm64-<name> PASS|FAIL|SKIP <detail>` lines go into RESULTS.
arm64_boot() {
  local qrc line id log=$ARM64_WORK/boot
  log "booting $ARM_REL under qemu-system-aarch64 (TCG, -cpu $ARM64_CPU), timeout ${BOOT_TIMEOUT}s"
  set +e
  timeout -k 10 "$BOOT_TIMEOUT" qemu-system-aarch64 -machine virt -cpu "$ARM64_CPU" -smp 2 -m 1536 \
    -nographic -no-reboot -nic none -kernel "$ARM_VMLINUZ" -initrd "$ARM64_WORK/initramfs.cpio" \
    -append "console=ttyAMA0 rdinit=/init panic=-1 quiet" </dev/null 2>&1 |
    sed -u 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g' | tee "$log.log"
  qrc=${PIPESTATUS[0]}
  set -e
  tr -d '\r' <"$log.log" >"$log.txt"
  { [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; } && log "QEMU timed out after ${BOOT_TIMEOUT}s (arm64)"
  grep -q '^E2E DONE' "$log.txt" || log "the arm64 guest did not finish (no 'E2E DONE'; qemu exit $qrc)"
  while IFS= read -r line; do
    id=$(cut -d' ' -f2 <<<"$line")
    RESULTS+=("$id"$'\t'"$(cut -d' ' -f3 <<<"$line")"$'\t'"$(cut -d' ' -f4- <<<"$line")")
  done < <(grep -E '^E2E arm64-[0-9A-Za-z._-]+ (PASS|FAIL|SKIP) ' "$log.txt")
  return 0
}

if arm64_prepare; then
  BOOT_HOOKS+=(arm64_boot)
else
  log "arm64 leg: $ARM64_WHY"
  arm64_fail_all "$ARM64_WHY"
fi

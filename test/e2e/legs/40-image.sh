# shellcheck shell=bash
# Leg 40-image (issue 16): the container image on a real kernel. Sourced by test/e2e/ci.sh (its helpers and
# variables: log, result, boot, REL, KROOT, FILE, DV, WORK, CACHE, SHARED_CACHE, HERE, ROOT, mode...).
#
# Build machine: `npm run build:image` (cached; packaging/build-image.sh), then an e2e image FROM it that adds the
# stand-in driver sources as /usr/src/falco-9.9.9+driver (what README's "Container image" tells users who compile
# to do). Its file system (`podman export`) becomes an ext4 disk image (`mke2fs -d`, cached per image id under
# SHARED_CACHE/image-leg). Own boot (BOOT_HOOKS): the normal initramfs plus an appended cpio with the guest kernel's
# virtio/ext4 modules (from Debian's image .deb), the guest's "host" files a chart node has (kernel headers under
# /usr/src and /usr/lib/linux-kbuild-*, /lib/modules/<release>/build, /boot/config-*, /etc/os-release), a driver
# repository and guest/40-image.boot.sh, which mounts the disk (QEMU snapshot=on: the cached file never changes),
# binds the chart's mounts under /host, chroots into the image and runs its entrypoint:
#   image-download  kmod, DRIVERS_REPO at the guest's 127.0.0.1: the real scap.ko when leg 20 built one, else the
#                   stand-in; downloaded, verified and loaded
#   image-compile   --compile: the image's dkms and gcc build the stand-in against the guest's headers; it loads
#   image-modern    modern_ebpf reports support as the guest's kernel has it (BTF, 5.8+), and no support when the
#                   container has no /sys
EXPECTED_IDS+=(image-download image-compile image-modern)
IMG_LEG_IDS=(image-download image-compile image-modern)
IMG_LEG_DISK=""
IMG_LEG_WHY=""

img_leg_fail_all() { for id in "${IMG_LEG_IDS[@]}"; do result "$id" FAIL "$1"; done; }

# The e2e image and its ext4 disk; sets IMG_LEG_DISK.
img_leg_disk() {
  local env_file out ctx id dir tar size
  out=$(cd "$ROOT" && bash packaging/build-image.sh 2>&1) || { IMG_LEG_WHY="npm run build:image failed: $(tail -n 5 <<<"$out")" && return 1; }
  log "$(tail -n 1 <<<"$out")"
  env_file=$(compgen -G "$ROOT/dist/falco-driver-loader-*-image.env" | head -n 1)
  # shellcheck disable=SC1090 # written by build-image.sh
  . "$env_file" || { IMG_LEG_WHY="no $env_file" && return 1; }
  ctx=$WORK/image-leg-ctx
  rm -rf "$ctx" && mkdir -p "$ctx/falco-$DV"
  cp "$HERE"/module/* "$ctx/falco-$DV/"
  printf 'FROM %s\nCOPY falco-%s /usr/src/falco-%s\n' "$IMAGE_ID" "$DV" "$DV" >"$ctx/Containerfile"
  out=$(podman --runtime runc build --pull=never --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
    -q -f "$ctx/Containerfile" -t localhost/falco-driver-loader-e2e:latest "$ctx" 2>&1) ||
    { IMG_LEG_WHY="podman build of the e2e image failed: $(tail -n 5 <<<"$out")" && return 1; }
  id=$(podman image inspect --format '{{.Id}}' localhost/falco-driver-loader-e2e:latest)
  dir=$SHARED_CACHE/image-leg
  IMG_LEG_DISK=$dir/${id:0:16}.ext4
  if [ -s "$IMG_LEG_DISK" ]; then
    log "image disk: $IMG_LEG_DISK (cached)"
    return 0
  fi
  mkdir -p "$dir"
  tar=$WORK/image-leg.tar
  podman rm -f fdl-e2e-export-$$ >/dev/null 2>&1 || true
  podman create --name fdl-e2e-export-$$ "$id" >/dev/null 2>&1 &&
    podman export -o "$tar" fdl-e2e-export-$$ 2>"$WORK/image-leg-export.log" ||
    { podman rm -f fdl-e2e-export-$$ >/dev/null 2>&1; IMG_LEG_WHY="podman export failed: $(cat "$WORK/image-leg-export.log")" && return 1; }
  podman rm -f fdl-e2e-export-$$ >/dev/null 2>&1 || true
  # Room for dkms' build tree and the downloads: the tar's size + 30 % + 256 MiB. bookworm's mke2fs (1.47.0) takes
  # a directory for -d, not yet a tarball.
  size=$(($(stat -c %s "$tar") * 13 / 10 / 1048576 + 256))
  rm -rf "$WORK/image-leg-root" && mkdir -p "$WORK/image-leg-root"
  tar --numeric-owner -xpf "$tar" -C "$WORK/image-leg-root" && rm -f "$tar" &&
    mke2fs -q -F -t ext4 -L fdl-image -d "$WORK/image-leg-root" "$IMG_LEG_DISK.tmp-$$" "${size}M" >"$WORK/image-leg-mke2fs.log" 2>&1 ||
    { rm -rf "$IMG_LEG_DISK.tmp-$$" "$WORK/image-leg-root" "$tar"; IMG_LEG_WHY="mke2fs -d failed: $(tail -n 3 "$WORK/image-leg-mke2fs.log")" && return 1; }
  rm -rf "$WORK/image-leg-root"
  # Only the newest disk is kept (each is ~1 GB, sparse).
  find "$dir" -maxdepth 1 -name '*.ext4' ! -name "${id:0:16}.ext4" -delete
  mv -f "$IMG_LEG_DISK.tmp-$$" "$IMG_LEG_DISK"
  log "image disk: $IMG_LEG_DISK ($size MiB, $(du -m "$IMG_LEG_DISK" | cut -f1) MiB used)"
}

# The guest kernel's modules for the disk: virtio_blk over virtio_pci, ext4 (+ crc32c, which ext4 asks the crypto
# API for), with their dependencies in load order, from Debian's kernel image .deb (only these files are extracted).
img_leg_modules() {
  local out=$1 deb list mods=() order=() m f dep
  deb=$(compgen -G "$CACHE/debs/linux-image-${REL}_*.deb" | head -n 1)
  [ -n "$deb" ] || { IMG_LEG_WHY="no linux-image-$REL .deb in $CACHE/debs" && return 1; }
  local x=$CACHE/image-leg/modules-$REL
  if [ ! -f "$x/.done" ]; then
    rm -rf "$x" && mkdir -p "$x"
    list=$(dpkg-deb -c "$deb" | awk '{ print $6 }' | grep -E '/(virtio|virtio_ring|virtio_pci|virtio_pci_legacy_dev|virtio_pci_modern_dev|virtio_blk|ext4|jbd2|mbcache|crc16|crc32c_generic)\.ko$')
    # shellcheck disable=SC2086 # one path per word
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$x" $list || { IMG_LEG_WHY="cannot extract modules from $deb" && return 1; }
    touch "$x/.done"
  fi
  declare -A path=() seen=()
  while IFS= read -r f; do path[$(basename "$f" .ko)]=$f; done < <(find "$x" -name '*.ko')
  visit() { # depth-first: dependencies first
    local m=$1 d
    [ -n "${seen[$m]:-}" ] && return 0
    seen[$m]=1
    [ -n "${path[$m]:-}" ] || { IMG_LEG_WHY="module $m is not in $deb" && return 1; }
    for d in $(modinfo -F depends "${path[$m]}" | tr ',' ' '); do visit "$d" || return 1; done
    order+=("$m")
  }
  for m in virtio_pci virtio_blk crc32c_generic ext4; do visit "$m" || return 1; done
  mkdir -p "$out/e2e/image/modules"
  for m in "${order[@]}"; do cp "${path[$m]}" "$out/e2e/image/modules/$m.ko"; done
  printf '%s\n' "${order[@]}" >"$out/e2e/image/modules.order"
}

# What a chart node has besides the image: headers (only what an out-of-tree module build reads: the -common tree
# without the other architectures), kbuild tools, the build link, the kernel config, os-release.
img_leg_host_files() {
  local out=$1 hdr=linux-headers-$REL common kb
  common=$(basename "$(compgen -G "$KROOT/usr/src/linux-headers-*-common" | head -n 1)")
  kb=$(basename "$(compgen -G "$KROOT/usr/lib/linux-kbuild-*" | head -n 1)")
  [ -n "$common" ] && [ -n "$kb" ] || { IMG_LEG_WHY="no -common headers or kbuild in $KROOT" && return 1; }
  mkdir -p "$out/usr/src" "$out/usr/lib" "$out/lib/modules/$REL" "$out/boot" "$out/etc"
  cp -a "$KROOT/usr/src/$hdr" "$out/usr/src/"
  # ci.sh points the Makefile's include into KROOT for the build machine; the guest has the original path.
  cp "$KROOT/usr/src/$hdr/Makefile.orig" "$out/usr/src/$hdr/Makefile" && rm -f "$out/usr/src/$hdr/Makefile.orig"
  (cd "$KROOT/usr/src" && tar -c --exclude="$common/arch/*" "$common") | tar -x -C "$out/usr/src"
  cp -a "$KROOT/usr/src/$common/arch/x86" "$out/usr/src/$common/arch/" 2>/dev/null || cp -a "$KROOT/usr/src/$common/arch/." "$out/usr/src/$common/arch/"
  [ -L "$KROOT/usr/src/$kb" ] && cp -a "$KROOT/usr/src/$kb" "$out/usr/src/"
  cp -a "$KROOT/usr/lib/$kb" "$out/usr/lib/"
  ln -s "/usr/src/$hdr" "$out/lib/modules/$REL/build"
  cp "$KROOT/boot/config-$REL" "$out/boot/"
  cp "$WORK/hostroot/etc/os-release" "$out/etc/os-release"
}

# The repository image-download serves: the real driver when leg 20 built one, else the stand-in.
img_leg_repo() {
  local out=$1 name version ko file
  if [ -n "${REAL_DRIVER_KO:-}" ] && [ -f "$REAL_DRIVER_KO" ]; then
    name=${REAL_DRIVER_NAME:-scap} version=$REAL_DRIVER_VERSION ko=$REAL_DRIVER_KO
  else
    name=falco version=$DV ko=$GOOD
  fi
  [ -f "$ko" ] || { IMG_LEG_WHY="no module to serve" && return 1; }
  file=${name}_${FILE#falco_}
  mkdir -p "$out/e2e/image/repo/$version/x86_64"
  cp "$ko" "$out/e2e/image/repo/$version/x86_64/$file"
  cat >"$out/e2e/image/env" <<EOF
IMG_DL_NAME='$name'
IMG_DL_VERSION='$version'
IMG_DL_FILE='$file'
IMG_DL_MODVER='$(modinfo -F version "$ko")'
IMG_DL_KIND='$([ "$name" = falco ] && echo "stand-in" || echo "real $name $version")'
IMG_CC_VERSION='$DV'
EOF
}

img_leg_boot() {
  local extra=$WORK/image-leg-extra
  if ! img_leg_disk; then img_leg_fail_all "$IMG_LEG_WHY" && return 1; fi
  rm -rf "$extra" && mkdir -p "$extra/e2e/guest.d"
  if ! img_leg_modules "$extra" || ! img_leg_host_files "$extra" || ! img_leg_repo "$extra"; then
    img_leg_fail_all "$IMG_LEG_WHY" && return 1
  fi
  cp "$HERE/guest/40-image.boot.sh" "$extra/e2e/guest.d/40-image.boot.sh"
  # A second cpio after the normal one: the kernel unpacks both into the same rootfs.
  (cd "$extra" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) >"$WORK/image-leg-extra.cpio"
  cat "$WORK/initramfs.cpio" "$WORK/image-leg-extra.cpio" >"$WORK/image-leg-initramfs.cpio"
  log "image leg initramfs: +$(($(stat -c %s "$WORK/image-leg-extra.cpio") / 1048576)) MiB (modules, headers, repository)"
  rm -rf "$extra" "$WORK/image-leg-extra.cpio"
  # Twice the usual bound: the dkms build under TCG alone takes about 5 minutes on 2 shared cores.
  BOOT_TIMEOUT=$((BOOT_TIMEOUT * 2)) BOOT_INITRD=$WORK/image-leg-initramfs.cpio boot image "e2e.leg=40-image" \
    -drive "file=$IMG_LEG_DISK,if=virtio,format=raw,snapshot=on"
  rm -f "$WORK/image-leg-initramfs.cpio"
}
BOOT_HOOKS+=(img_leg_boot)

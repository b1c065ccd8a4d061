# shellcheck shell=bash disable=SC2154 # sourced by test/e2e/ci.sh (REL, WORK, GOOD, FILE, DV, ... are its variables)
# Leg 30 (issue 15): the hand-off to the real falcoctl, on the real kernel. For every release in
# test/falcoctl-real/versions.txt, test/falcoctl-real/build.sh gives a static binary (built once per machine from
# the Go module proxy, cached under ${XDG_CACHE_HOME:-~/.cache}/falco-driver-loader/falcoctl; `npm run test:falcoctl`
# normally built them already). The guest runs test/e2e/guest/falcoctl.sh in its own boot (e2e.leg=30-falcoctl):
# the normal initramfs plus a second cpio archive with the falcoctl binaries, bash (falcoctl runs lsmod, dkms and
# its build script through `bash -c`), the repositories and the DKMS source tree; the kernel unpacks both archives.
# Its own boot keeps ~300 MB of binaries out of the normal boot that every other scenario shares.
#
# Per release, ids falcoctl-<tag>-<scenario> (assignment below; all four on every release with E2E_FALCOCTL_ALL=1):
#   install           default legacy run, DRIVERS_REPO = the guest's repository: handed off, falcoctl downloads and
#                     loads; our post-check sees /sys/module/<name>; exit 0
#   clean             --clean: handed off to `falcoctl driver cleanup`, which rmmods it; the module is gone
#   refused-module    the repository serves the module with a symbol CRC of another kernel build: the kernel refuses
#                     it, falcoctl still exits 0, we exit 1 with the one line saying it is not loaded
#   compile-fallback  repository down, DKMS source + headers dir present: falcoctl's own DKMS build (guest stand-ins
#                     for dkms and gcc, as scenario 7) produces and loads the module; exit 0
# A release that could not be built reports each of its ids as FAIL with build.sh's reason.
# The real driver (REAL_DRIVER_KO from leg 20) is used for install/clean/refused-module when set; compile-fallback
# always uses the stand-in (the guest's dkms stand-in hands out the module the host's real dkms built from it).

FC_WORK=$WORK/falcoctl
FC_STATUS=$FC_WORK/status
mkdir -p "$FC_STATUS"
mapfile -t FC_TAGS < <(awk -v only=" ${FALCOCTL_REAL_ONLY:-} " '/^v[0-9]/ && (only == "  " || index(only, " " $1 " ")) { print $1 }' \
  "$ROOT/test/falcoctl-real/versions.txt")
# Which releases run which scenario in the guest: a loader run that hands off takes 15-30 s under TCG (node, then
# falcoctl version, --help and install, each a 60 MB static binary), so not all 4 x 5. install runs for every
# release (the others are unloaded with rmmod); refused-module on the oldest (falcoctl 0.7.x, driverkit 0.16);
# clean and compile-fallback on the newest (driverkit 0.23): the loader's post-check is the same for all, and every
# release's install/cleanup argv is proven outside the guest by npm run test:falcoctl.
FC_ALL=${E2E_FALCOCTL_ALL:-0}
declare -A FC_SCEN=()
fc_built=()
t0=$EPOCHREALTIME
bash "$ROOT/test/falcoctl-real/build.sh" "$FC_STATUS" >"$FC_WORK/build.log" 2>&1 || true
for tag in "${FC_TAGS[@]}"; do
  if grep -q '^ok ' "$FC_STATUS/$tag.status" 2>/dev/null; then fc_built+=("$tag"); fi
done
fc_first=${fc_built[0]:-} fc_last=""
[ ${#fc_built[@]} = 0 ] || fc_last=${fc_built[${#fc_built[@]} - 1]}
for tag in "${FC_TAGS[@]}"; do
  s="install"
  if [ "$FC_ALL" = 1 ]; then
    s="install clean refused-module compile-fallback"
  else
    [ "$tag" != "$fc_first" ] || s="$s refused-module"
    [ "$tag" != "$fc_last" ] || [ "$tag" = "$fc_first" ] || s="$s clean compile-fallback"
    [ "$tag" != "$fc_first" ] || [ "$tag" != "$fc_last" ] || s="$s clean compile-fallback"
  fi
  FC_SCEN[$tag]=$s
  for sc in $s; do EXPECTED_IDS+=("falcoctl-$tag-$sc"); done
  if grep -q '^unavailable ' "$FC_STATUS/$tag.status" 2>/dev/null; then
    # The Go module proxy refuses this release: listed as skipped with its answer (e2e prints every SKIP).
    why=$(sed 's/^unavailable //' "$FC_STATUS/$tag.status")
    for sc in $s; do result "falcoctl-$tag-$sc" SKIP "falcoctl $tag cannot be built here: $why"; done
  elif ! grep -q '^ok ' "$FC_STATUS/$tag.status" 2>/dev/null; then
    why=$(cat "$FC_STATUS/$tag.status" 2>/dev/null || echo "build.sh wrote no status (see $FC_WORK/build.log)")
    for sc in $s; do result "falcoctl-$tag-$sc" FAIL "falcoctl $tag not available: ${why#fail }"; done
  fi
done
log "falcoctl: ${#fc_built[@]} of ${#FC_TAGS[@]} releases built/cached in $(secs "$t0" "$EPOCHREALTIME")s: ${fc_built[*]}"

# The driver the scenarios load: the real one when leg 20 built it, else the stand-in.
if [ -n "${REAL_DRIVER_KO:-}" ] && [ -f "${REAL_DRIVER_KO:-}" ]; then
  FC_NAME=$REAL_DRIVER_NAME FC_VER=$REAL_DRIVER_VERSION FC_KO=$REAL_DRIVER_KO
else
  FC_NAME=falco FC_VER=$DV FC_KO=$GOOD
fi
FC_FILE="$FC_NAME${FILE#falco}" # same target, release and version as the stand-in's name
# A copy the kernel refuses as built for another kernel: the first __versions entry (module_layout on 6.1) gets
# another CRC, which is what a module built against other headers carries ("disagrees about version of symbol").
FC_REFUSED=$FC_WORK/refused.ko
fc_refused() {
  objcopy -O binary --only-section=__versions "$FC_KO" "$FC_WORK/versions.bin" &&
    node -e '
      const fs = require("node:fs");
      const b = fs.readFileSync(process.argv[1]);
      if (b.length < 64) process.exit(1);
      for (let i = 0; i < 4; i++) b[i] ^= 0xff;
      fs.writeFileSync(process.argv[1], b);
    ' "$FC_WORK/versions.bin" &&
    objcopy --update-section "__versions=$FC_WORK/versions.bin" "$FC_KO" "$FC_REFUSED"
}
fc_refused || log "falcoctl: could not make the refused module (objcopy on $FC_KO); refused-module will fail"

fc_stage() { # <initramfs root>: a second archive for the leg's own boot
  local r=$FC_WORK/root tag lib
  rm -rf "$r" && mkdir -p "$r/e2e/falcoctl" "$r/e2e/guest.d" "$r/bin" "$r/usr/src/falco-$DV"
  for tag in "${fc_built[@]}"; do
    mkdir -p "$r/e2e/falcoctl/$tag" && cp "$FALCOCTL_CACHE_ROOT/$tag/falcoctl" "$r/e2e/falcoctl/$tag/falcoctl"
  done
  cp /bin/bash "$r/bin/bash"
  for lib in $(ldd /bin/bash | grep -o '/[^ ]*\.so[^ ]*' | sort -u); do
    mkdir -p "$r$(dirname "$lib")" && cp -L "$lib" "$r$lib"
  done
  cp "$HERE"/module/* "$r/usr/src/falco-$DV/"
  # As on any host: falcoctl's DKMS build asks who it runs as (Go's user.Current(); a static binary reads
  # /etc/passwd, else needs $USER), and fails with "user: Current requires cgo or $USER set" without one.
  mkdir -p "$r/etc" && echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"
  mkdir -p "$r/srv/fc-good/$FC_VER/x86_64" "$r/srv/fc-refused/$FC_VER/x86_64"
  cp "$FC_KO" "$r/srv/fc-good/$FC_VER/x86_64/$FC_FILE"
  [ -f "$FC_REFUSED" ] && cp "$FC_REFUSED" "$r/srv/fc-refused/$FC_VER/x86_64/$FC_FILE"
  cp "$HERE/guest/falcoctl.sh" "$r/e2e/guest.d/30-falcoctl.boot.sh"
  {
    echo "FC_NAME='$FC_NAME'"
    echo "FC_VER='$FC_VER'"
    echo "FC_FILE='$FC_FILE'"
    echo "FC_STANDIN_FILE='$FILE'"
    printf "FC_RUN='"
    for tag in "${fc_built[@]}"; do printf '%s:%s;' "$tag" "${FC_SCEN[$tag]// /,}"; done
    echo "'"
  } >"$r/e2e/falcoctl.env"
  (cd "$r" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) >"$FC_WORK/falcoctl.cpio"
  rm -rf "$r"
}
FALCOCTL_CACHE_ROOT=${FALCOCTL_REAL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/falco-driver-loader/falcoctl}

fc_boot() {
  [ ${#fc_built[@]} -gt 0 ] || return 0
  fc_stage || return 1
  cat "$WORK/initramfs.cpio" "$FC_WORK/falcoctl.cpio" >"$FC_WORK/initramfs.cpio"
  log "falcoctl: initramfs + $(($(stat -c %s "$FC_WORK/falcoctl.cpio") / 1048576)) MiB of falcoctl binaries, bash, repositories"
  # The normal initramfs (with leg 20's sysdig) plus ~450 MiB of binaries: the kernel holds the archive and its
  # unpacked copy at once, which does not fit the standard boot's 1536 MiB.
  BOOT_MEM=3072 BOOT_INITRD=$FC_WORK/initramfs.cpio boot falcoctl "e2e.leg=30-falcoctl"
  rm -f "$FC_WORK/initramfs.cpio" "$FC_WORK/falcoctl.cpio"
}
BOOT_HOOKS+=(fc_boot)

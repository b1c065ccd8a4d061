#!/usr/bin/env bash
# Builds dist/falco-driver-loader-<version>-<release>.<x86_64|aarch64>.rpm from the single executable, offline, with
# rpmbuild (Debian: apt-get install rpm). Nothing is compiled or stripped; see packaging/rpm/falco-driver-loader.spec.
#   packaging/build-rpm.sh <x86_64|aarch64>        (npm run package:rpm builds both)
# Environment: PKG_XZ_LEVEL (default 6), PKG_RELEASE, PKG_MAINTAINER, PKG_HOMEPAGE, SOURCE_DATE_EPOCH (lib.sh).
set -euo pipefail
# shellcheck source=packaging/lib.sh
. "$(dirname -- "$0")/lib.sh"

arch=${1:?usage: build-rpm.sh <x86_64|aarch64>}
rpm_arch=$(pkg_rpm_arch "$arch")
pkg_require_sea "$arch"
command -v rpmbuild >/dev/null || { echo "build-rpm: rpmbuild not found (apt-get install rpm)" >&2; exit 1; }

stage=$(mktemp -d "${TMPDIR:-/tmp}/fdl-rpm.XXXXXX")
trap 'rm -rf -- "$stage"' EXIT
pkg_stage_payload "$arch" "$stage/payload"

defines=(
  --define "_topdir $stage/top"
  # rpm on Debian would otherwise create ~/.rpmdb just to build.
  --define "_dbpath $stage/rpmdb"
  --define "fdl_version $PKG_PKGVERSION"
  --define "fdl_release $PKG_RELEASE"
  --define "fdl_payload $stage/payload"
  --define "fdl_sea $PKG_DIST/sea"
  --define "fdl_packager $PKG_MAINTAINER"
  # xz, not zstd: rpm on RHEL 8 / SLES 15 / Amazon Linux reads it everywhere the runtime runs. T0: all cores.
  --define "_binary_payload w${PKG_XZ_LEVEL}T0.xzdio"
  --define "use_source_date_epoch_as_buildtime 1"
  --define "clamp_mtime_to_source_date_epoch 1"
  --define "_buildhost reproducible"
  # /usr/share/licenses/<name>, as Fedora/RHEL/SUSE lay it out (Debian's rpm defaults to <name>-<version>).
  --define "_docdir_fmt %{NAME}"
)
if [ -n "$PKG_HOMEPAGE" ]; then defines+=(--define "fdl_url $PKG_HOMEPAGE"); fi

start=$(date +%s)
rpmbuild -bb --target "$rpm_arch-linux" "${defines[@]}" "$PKG_ROOT/packaging/rpm/falco-driver-loader.spec" \
  >"$stage/rpmbuild.log" 2>&1 || { cat "$stage/rpmbuild.log" >&2; exit 1; }
out=$(pkg_rpm_file "$arch")
built=$(find "$stage/top/RPMS" -name '*.rpm')
if [ "$(echo "$built" | wc -l)" != 1 ] || [ "$(basename -- "$built")" != "$(basename -- "$out")" ]; then
  echo "build-rpm: expected $(basename -- "$out"), rpmbuild made: $built" >&2
  exit 1
fi
mv -f "$built" "$out"
pkg_log "$(basename -- "$out") ($(du -m "$out" | cut -f1) MB, xz -$PKG_XZ_LEVEL, $(($(date +%s) - start)) s)"

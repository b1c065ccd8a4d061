#!/usr/bin/env bash
# npm run release:build: every release artifact, for both arches, into dist/:
#   falco-driver-loader-<version>-{x86_64,aarch64}          single executables (no Node needed)
#   falco-driver-loader_<version>-<rel>_{amd64,arm64}.deb   Debian/Ubuntu packages
#   falco-driver-loader-<version>-<rel>.{x86_64,aarch64}.rpm RHEL/Fedora/SUSE/Amazon Linux packages
#   SHA256SUMS
# Needs: npm ci done, binutils (strip) and binutils-aarch64-linux-gnu or llvm (strip for the other arch),
# dpkg-deb, rpmbuild (apt-get install rpm). The container image is built separately (packaging/docker/Dockerfile).
set -euo pipefail
# shellcheck source=packaging/lib.sh
. "$(dirname -- "$0")/lib.sh"
cd "$PKG_ROOT"

start=$(date +%s)
node packaging/build-sea.mjs --arch all
artifacts=()
for arch in x86_64 aarch64; do
  packaging/build-deb.sh "$arch"
  packaging/build-rpm.sh "$arch"
  artifacts+=("$(pkg_exe "$arch")" "$(pkg_deb_file "$arch")" "$(pkg_rpm_file "$arch")")
done
pkg_write_sums "$PKG_DIST/SHA256SUMS" "${artifacts[@]}"

pkg_log "release $PKG_VERSION built in $(($(date +%s) - start)) s:"
(cd "$PKG_DIST" && for f in "${artifacts[@]}" "$PKG_DIST/SHA256SUMS"; do
  printf '  %-50s %8s\n' "$(basename -- "$f")" "$(du -h -- "$f" | cut -f1)"
done)

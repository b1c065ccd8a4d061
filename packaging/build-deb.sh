#!/usr/bin/env bash
# Builds dist/falco-driver-loader_<version>-<release>_<amd64|arm64>.deb from the single executable, offline, with
# dpkg-deb only (no debhelper: the payload is one prebuilt binary, a man page and a completion file).
#   packaging/build-deb.sh <x86_64|aarch64>        (npm run package:deb builds both)
# Environment: PKG_XZ_LEVEL (default 6), PKG_RELEASE, PKG_MAINTAINER, PKG_HOMEPAGE, SOURCE_DATE_EPOCH (lib.sh).
set -euo pipefail
# shellcheck source=packaging/lib.sh
. "$(dirname -- "$0")/lib.sh"

arch=${1:?usage: build-deb.sh <x86_64|aarch64>}
deb_arch=$(pkg_deb_arch "$arch")
pkg_require_sea "$arch"
command -v dpkg-deb >/dev/null || { echo "build-deb: dpkg-deb not found (apt-get install dpkg)" >&2; exit 1; }

stage=$(mktemp -d "${TMPDIR:-/tmp}/fdl-deb.XXXXXX")
trap 'rm -rf -- "$stage"' EXIT
chmod 0755 "$stage"
root="$stage/root"
mkdir -p "$root/DEBIAN"

pkg_stage_payload "$arch" "$root"

doc="$root/usr/share/doc/$PKG_NAME"
install -d -m 0755 "$doc"
node_version=$(sed -n 's/^  "nodeVersion": "\([^"]*\)".*/\1/p' "$PKG_ROOT/packaging/node-runtime.json")
# Debian keeps every licence in the one copyright file, as indented paragraphs (blank lines become " .").
indent() { sed -e 's/[[:space:]]*$//' -e 's/^$/./' -e 's/^/ /'; }
{
  sed "s/@NODE_VERSION@/$node_version/g" "$PKG_ROOT/packaging/deb/copyright.in"
  printf '\nLicense: Node.js\n'
  indent <"$PKG_DIST/sea/LICENSE.node"
  printf '\nLicense: bundled-npm-packages\n'
  indent <"$PKG_DIST/sea/THIRD-PARTY-NOTICES"
} >"$doc/copyright"
{
  printf '%s (%s-%s) stable; urgency=medium\n\n' "$PKG_NAME" "$PKG_PKGVERSION" "$PKG_RELEASE"
  printf '  * Release %s. The changes are listed in CHANGELOG.md of the source.\n\n' "$PKG_VERSION"
  printf ' -- %s  %s\n' "$PKG_MAINTAINER" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$doc/changelog.Debian.gz"
install -D -m 0644 "$PKG_ROOT/packaging/deb/lintian-overrides" "$root/usr/share/lintian/overrides/$PKG_NAME"
chmod 0644 "$doc/copyright" "$doc/changelog.Debian.gz"

install -m 0755 "$PKG_ROOT/packaging/deb/preinst" "$PKG_ROOT/packaging/deb/postrm" "$root/DEBIAN/"
installed_size=$(du -s -k --apparent-size --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@DEB_VERSION@/$PKG_PKGVERSION-$PKG_RELEASE/" -e "s/@DEB_ARCH@/$deb_arch/" \
  -e "s|@MAINTAINER@|$PKG_MAINTAINER|" -e "s/@INSTALLED_SIZE@/$installed_size/" \
  "$PKG_ROOT/packaging/deb/control.in" >"$root/DEBIAN/control"
if [ -n "$PKG_HOMEPAGE" ]; then
  sed -i "/^Priority:/a Homepage: $PKG_HOMEPAGE" "$root/DEBIAN/control"
fi
(cd "$root" && find usr -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

out=$(pkg_deb_file "$arch")
start=$(date +%s)
dpkg-deb --root-owner-group -Zxz -z"$PKG_XZ_LEVEL" --build "$root" "$out.partial" >/dev/null
mv -f "$out.partial" "$out"
pkg_log "$(basename -- "$out") ($(du -m "$out" | cut -f1) MB, xz -$PKG_XZ_LEVEL, $(($(date +%s) - start)) s)"

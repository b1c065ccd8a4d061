# Shared by the packaging scripts (sourced, not run). Bash.
# shellcheck shell=bash

PKG_ROOT=$(CDPATH='' cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
# Where artifacts go (build-sea.mjs reads it too); dist/ unless set.
PKG_DIST=${PKG_DIST:-"$PKG_ROOT/dist"}
export PKG_DIST
PKG_NAME=falco-driver-loader
# package.json is the one place the product version lives.
PKG_VERSION=$(sed -n 's/^  "version": "\([^"]*\)".*/\1/p' "$PKG_ROOT/package.json" | head -n1)
# deb and rpm both sort "~" before anything, so a SemVer pre-release (1.0.0-rc.1) sorts before its release.
PKG_PKGVERSION=${PKG_VERSION/-/\~}
# The packaging revision: bump it (PKG_RELEASE=2) to re-release the same version with packaging-only changes.
PKG_RELEASE=${PKG_RELEASE:-1}
# Set these for a public release; the packages record them (Maintainer:, Packager:, Homepage:/URL:).
PKG_MAINTAINER=${PKG_MAINTAINER:-"falco-driver-loader maintainers <falco-driver-loader@localhost>"}
PKG_HOMEPAGE=${PKG_HOMEPAGE:-}
# xz level for both package formats: 6 for releases (26 MB), CI uses 0 (33 MB, 5x faster); see README.md, Install.
PKG_XZ_LEVEL=${PKG_XZ_LEVEL:-6}

if [ -z "$PKG_VERSION" ]; then
  echo "packaging: cannot read the version from $PKG_ROOT/package.json" >&2
  exit 1
fi

# Reproducible builds: every timestamp in the packages is the last commit's time unless the caller sets one.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$PKG_ROOT" log -1 --format=%ct 2>/dev/null || true)
  SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(date +%s)}
fi
export SOURCE_DATE_EPOCH

# uname -m names (as in the executable's file name) → package architecture names.
pkg_deb_arch() {
  case "$1" in
    x86_64) echo amd64 ;;
    aarch64) echo arm64 ;;
    *) echo "packaging: unknown arch '$1' (use x86_64 or aarch64)" >&2; return 1 ;;
  esac
}

pkg_rpm_arch() {
  case "$1" in
    x86_64 | aarch64) echo "$1" ;;
    *) echo "packaging: unknown arch '$1' (use x86_64 or aarch64)" >&2; return 1 ;;
  esac
}

pkg_exe() { echo "$PKG_DIST/$PKG_NAME-$PKG_VERSION-$1"; }
pkg_deb_file() { echo "$PKG_DIST/${PKG_NAME}_${PKG_PKGVERSION}-${PKG_RELEASE}_$(pkg_deb_arch "$1").deb"; }
pkg_rpm_file() { echo "$PKG_DIST/$PKG_NAME-$PKG_PKGVERSION-$PKG_RELEASE.$(pkg_rpm_arch "$1").rpm"; }

# The executable and the files build-sea.mjs writes beside it; every package script needs them.
pkg_require_sea() {
  local exe
  exe=$(pkg_exe "$1")
  local f
  for f in "$exe" "$PKG_DIST/sea/falco-driver-loader.8" "$PKG_DIST/sea/LICENSE.node" "$PKG_DIST/sea/THIRD-PARTY-NOTICES"; do
    if [ ! -s "$f" ]; then
      echo "packaging: $f is missing; run 'npm run build:sea' (or node packaging/build-sea.mjs --arch $1) first" >&2
      return 1
    fi
  done
}

# Copies the package payload (the same for deb and rpm) under $2 for arch $1. Never strips: the SEA blob is
# appended to the binary, stripping it again would cut it off.
pkg_stage_payload() {
  local arch=$1 dest=$2
  install -D -m 0755 "$(pkg_exe "$arch")" "$dest/usr/bin/$PKG_NAME"
  install -d -m 0755 "$dest/usr/share/man/man8"
  gzip -9n <"$PKG_DIST/sea/falco-driver-loader.8" >"$dest/usr/share/man/man8/$PKG_NAME.8.gz"
  chmod 0644 "$dest/usr/share/man/man8/$PKG_NAME.8.gz"
  install -D -m 0644 "$PKG_ROOT/packaging/completion/falco-driver-loader.bash" \
    "$dest/usr/share/bash-completion/completions/$PKG_NAME"
}

pkg_log() { printf '[%s] %s\n' "$(basename -- "$0")" "$*"; }

# pkg_write_sums <output> <file in dist/>...: sha256sum lines with bare file names, as `sha256sum -c` expects them
# beside the downloaded files (release.sh writes dist/SHA256SUMS).
pkg_write_sums() {
  local out=$1 names=() f
  shift
  for f in "$@"; do names+=("$(basename -- "$f")"); done
  (cd "$PKG_DIST" && sha256sum -- "${names[@]}") >"$out.partial" && mv -f "$out.partial" "$out"
}

#!/usr/bin/env bash
# Builds the driver-loader container image with Debian's podman/buildah, from this repository alone (no container
# registry): `npm run build:image` (also run by .ci/run). As root on Debian bookworm:
#   1. apt-get installs podman buildah runc debootstrap when they are missing;
#   2. the base image: `debootstrap --variant=minbase bookworm` from the Debian mirror of this machine's apt sources,
#      packed once into a tarball under the machine cache (${XDG_CACHE_HOME:-$HOME/.cache}/falco-driver-loader/image,
#      so a fresh clone reuses it) and `podman import`ed into podman's store when the store lacks it;
#   3. the x86_64 single executable of this checkout (node packaging/build-sea.mjs when dist/ has none newer than
#      src/ and package-lock.json);
#   4. `podman build` of packaging/docker/Dockerfile on that base (--pull=never; --network host for apt-get);
#   5. prints the image's size and writes it with the image id to dist/falco-driver-loader-<version>-image.env.
#
# Environment: FDL_IMAGE_CACHE (the base-image cache dir), FDL_IMAGE_MIRROR (the Debian mirror; default: this
# machine's apt source for bookworm), FDL_IMAGE_TAG (default localhost/falco-driver-loader:<version>).
#
# podman on this machine kind (packaging/README.md): crun fails on the cgroup v1/v2 hybrid layout, hence
# --runtime runc; the default ulimits cannot be raised, hence explicit ones.
set -euo pipefail
# shellcheck source=packaging/lib.sh
. "$(dirname -- "$0")/lib.sh"
# shellcheck source=packaging/image-lib.sh
. "$(dirname -- "$0")/image-lib.sh"
cd "$PKG_ROOT"

t0=$(date +%s)
say() { echo "build-image: $*"; }
die() {
  echo "build-image: $*" >&2
  exit 1
}

# ----------------------------------------------------------------------------------------------------- tools
missing=()
for p in podman buildah runc debootstrap; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing ${missing[*]}: run as root, or: sudo apt-get install --no-install-recommends ${missing[*]}"
  # apt-get update only when the lists do not know the packages (CI runs several apt users at once).
  apt-cache show --no-all-versions "${missing[@]}" >/dev/null 2>&1 || apt-get update -qq
  say "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
fi

# ------------------------------------------------------------------------------------------------------ base
mkdir -p "$IMG_CACHE"
mirror=${FDL_IMAGE_MIRROR:-$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(IDENTIFIER)' 2>/dev/null |
  awk '$2 == "bookworm" && $3 == "Packages" { print $1; exit }')}
[ -n "$mirror" ] || die "no Debian bookworm mirror in this machine's apt sources: set FDL_IMAGE_MIRROR=http://deb.debian.org/debian"
case "$mirror" in http://* | https://* | file:/*) ;; *) die "FDL_IMAGE_MIRROR=$mirror: not an http(s) or file URL" ;; esac
# One base per machine even when several CI runs start at once: the first makes it, the others wait for the lock.
exec 9>"$IMG_CACHE/.lock"
flock -w 900 9 || die "another build holds $IMG_CACHE/.lock for 15 minutes"
if [ ! -s "$IMG_BASE_TAR" ]; then
  tb=$(date +%s)
  root=$(mktemp -d "$IMG_CACHE/debootstrap.XXXXXX")
  trap 'rm -rf -- "$root" "$IMG_BASE_TAR.tmp"' EXIT
  say "debootstrap --variant=minbase bookworm $root $mirror"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$IMG_CACHE/debootstrap.log" 2>&1 ||
    die "debootstrap failed (last lines of $IMG_CACHE/debootstrap.log): $(tail -n 5 "$IMG_CACHE/debootstrap.log")"
  # What debootstrap leaves that no image needs; apt's lists are fetched again by the Dockerfile.
  rm -rf "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/*
  # Documentation, manuals and translations too (the Dockerfile keeps dpkg from unpacking more of them).
  find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
  tar --numeric-owner --sort=name -C "$root" -cf "$IMG_BASE_TAR.tmp" .
  mv -f "$IMG_BASE_TAR.tmp" "$IMG_BASE_TAR"
  rm -rf -- "$root"
  trap - EXIT
  say "base: $IMG_BASE_TAR ($(du -m "$IMG_BASE_TAR" | cut -f1) MB) in $(($(date +%s) - tb)) s"
fi
base_tag=$(img_base_tag)
if ! podman image exists "$base_tag"; then
  say "podman import $IMG_BASE_TAR $base_tag"
  podman import --quiet "$IMG_BASE_TAR" "$base_tag" >/dev/null
fi
flock -u 9

# ------------------------------------------------------------------------------------------ single executable
exe=$(pkg_exe x86_64)
newest_src=$(find src package.json package-lock.json packaging/build-sea.mjs packaging/node-runtime.json -type f -printf '%T@\n' | sort -n | tail -n 1)
if [ ! -x "$exe" ] || ! awk -v a="$(stat -c %Y "$exe")" -v b="$newest_src" 'BEGIN { exit !(a >= b) }'; then
  say "node packaging/build-sea.mjs --arch x86_64 (dist/ has no executable newer than src/)"
  node packaging/build-sea.mjs --arch x86_64 >/dev/null
fi

# ----------------------------------------------------------------------------------------------------- image
tag=${FDL_IMAGE_TAG:-$IMG_TAG}
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- src package.json package-lock.json packaging 2>/dev/null || revision="$revision-dirty"
# The context: exactly what Dockerfile.dockerignore lets through from the repository root, hard-linked into a temp
# dir (dist/ may be PKG_DIST elsewhere; podman need not walk node_modules and the e2e cache).
mkdir -p "$PKG_DIST"
ctx=$(mktemp -d "${TMPDIR:-/tmp}/fdl-image-context.XXXXXX")
trap 'rm -rf -- "$ctx"' EXIT
mkdir -p "$ctx/dist" "$ctx/packaging/docker"
cp -l "$exe" "$ctx/dist/" 2>/dev/null || cp "$exe" "$ctx/dist/"
cp packaging/docker/Dockerfile packaging/docker/docker-entrypoint.sh packaging/docker/dpkg-excludes.cfg "$ctx/packaging/docker/"
say "podman build -f packaging/docker/Dockerfile -t $tag (base $base_tag)"
tb=$(date +%s)
"${IMG_PODMAN[@]}" build "${IMG_LIMITS[@]}" --pull=never --network host --layers \
  --ignorefile packaging/docker/Dockerfile.dockerignore -f "$ctx/packaging/docker/Dockerfile" \
  --build-arg "BASE_IMAGE=$base_tag" --build-arg "LOADER_VERSION=$PKG_VERSION" --build-arg LOADER_ARCH=x86_64 \
  --build-arg "REVISION=$revision" -t "$tag" "$ctx" >"$PKG_DIST/image-build.log" 2>&1 ||
  die "podman build failed (last lines of $IMG_CACHE/build.log):
$(tail -n 30 "$PKG_DIST/image-build.log")"
# The images this tag named before are dangling now: remove them (only ours, by the Dockerfile's title label).
podman image prune -f --filter label=org.opencontainers.image.title=falco-driver-loader >/dev/null 2>&1 || true
id=$(podman image inspect --format '{{.Id}}' "$tag")
size=$(podman image inspect --format '{{.Size}}' "$tag")
mkdir -p "$PKG_DIST"
printf 'IMAGE_TAG=%s\nIMAGE_ID=%s\nIMAGE_SIZE=%s\nIMAGE_BASE=%s\nIMAGE_REVISION=%s\n' \
  "$tag" "$id" "$size" "$base_tag" "$revision" >"$PKG_DIST/$PKG_NAME-$PKG_VERSION-image.env"
say "$tag: id ${id:0:12}, $((size / 1000000)) MB (podman build $(($(date +%s) - tb)) s, total $(($(date +%s) - t0)) s)"

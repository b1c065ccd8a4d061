# Shared by build-image.sh, image-check.sh and test/e2e/legs/40-image.sh (sourced after lib.sh). Bash.
# shellcheck shell=bash

# The machine cache: survives a fresh clone, so the base image is made once per machine.
IMG_CACHE=${FDL_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/falco-driver-loader/image}
IMG_BASE_TAR=$IMG_CACHE/bookworm-minbase-amd64.tar
IMG_TAG=localhost/falco-driver-loader:$PKG_VERSION
# crun fails on this machine kind's cgroup layout ("cgroups in hybrid mode not supported"): runc. The default
# container ulimits cannot be set here (setrlimit: Operation not permitted): explicit ones.
IMG_PODMAN=(podman --runtime runc)
IMG_LIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

# The base's tag names its content, so a remade tarball is imported again instead of reusing a stale image.
img_base_tag() { echo "localhost/fdl-bookworm-minbase:$(sha256sum "$IMG_BASE_TAR" | cut -c1-12)"; }

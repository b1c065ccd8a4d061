#!/bin/sh
# Entry point of the driver-loader image, as in Falco's docker/driver-loader (legacy-loader.md §C.1): link every
# entry of the host's /usr/src into the image's /usr/src, so dkms and make find the host's kernel headers (and the
# Falco driver sources, when the host's Falco package installed them there), then become the loader with the
# container's arguments. `exec`: the container's exit code is the loader's, which decides whether a Kubernetes
# init container lets the pod start.
#
# FALCO_DRIVER_LOADER_USR_SRC and FALCO_DRIVER_LOADER_BIN exist for tests (test/packaging/entrypoint.test.ts).
set -u

host_root=${HOST_ROOT:-/host}
usr_src=${FALCO_DRIVER_LOADER_USR_SRC:-/usr/src}
loader=${FALCO_DRIVER_LOADER_BIN:-/usr/bin/falco-driver-loader}

echo "* Setting up /usr/src links from host"
# A read-only root filesystem (podman run --read-only, Kubernetes readOnlyRootFilesystem): one line instead of one
# error per entry. Downloads still work; a build then finds only what the image itself has in /usr/src.
if [ -d "$usr_src" ] && [ ! -w "$usr_src" ]; then
  echo "* $usr_src is read-only: the host's /usr/src entries are not linked (compiling may not find the host's kernel headers)" >&2
  exec "$loader" "$@"
fi
for entry in "$host_root"/usr/src/*; do
  # No match leaves the pattern itself; a dangling symlink on the host is still linked (it may resolve later).
  if [ ! -e "$entry" ] && [ ! -L "$entry" ]; then
    continue
  fi
  link="$usr_src/${entry##*/}"
  # What the image already has wins (Falco's entrypoint got "File exists" from ln and went on).
  if [ -e "$link" ] || [ -L "$link" ]; then
    continue
  fi
  ln -s "$entry" "$link" || echo "* Could not link $link to $entry, continuing" >&2
done

exec "$loader" "$@"

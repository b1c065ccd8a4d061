#!/usr/bin/env bash
# The container image checks of packaging/ci-check.sh (sourced by it: uses its check/pass/fail/skip/want_* helpers,
# WORK, V, EXE and IS_ROOT). Builds the image with `npm run build:image`, then runs it as the falcosecurity/falco
# chart runs its driver-loader init container (legacy-loader.md §C.4; packaging/helm/values-driver-loader.yaml):
# the chart's mounts pointed at a fixture host tree, its env (FALCOCTL_DRIVER_*, proxies), its args (the
# initContainer args, then the driver word), privileged.
#
# Nothing may load or unload a module on this machine. Only runs that end before the kmod flow's first kernel call
# (--print-env, --dry-run, argument errors) get --privileged, as the chart gives it. The runs that start a real kmod
# flow (the SIGTERM and read-only downloads) could reach rmmod/insmod/modprobe if the network step ended otherwise
# than planned, so they run without --privileged and with CAP_SYS_MODULE dropped: the kernel refuses any module
# operation from them. Their download is either never answered or refused before insmod (wrong vermagic).
#
# Alone (bash packaging/image-check.sh) it defines the few helpers and variables it needs and prints its summary.
# shellcheck shell=bash
if ! declare -F check >/dev/null; then
  set -uo pipefail
  # shellcheck source=packaging/lib.sh
  . "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
  PASSED=0 FAILED=0 SKIPPED=0 V=$PKG_VERSION EXE=$(pkg_exe x86_64) IMG_ALONE=yes
  IS_ROOT=$([ "$(id -u)" = 0 ] && echo yes || echo no)
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/fdl-image-check.XXXXXX")
  trap 'rm -rf -- "$WORK"' EXIT
  pass() { PASSED=$((PASSED + 1)); echo "PASS $1"; }
  skip() { SKIPPED=$((SKIPPED + 1)); echo "SKIP $1: $2"; }
  fail() { FAILED=$((FAILED + 1)); echo "FAIL $1"; [ -z "${2:-}" ] || printf '%s\n' "$2" | tail -n 40 | sed 's/^/     /'; }
  check() { local name=$1 out; shift; if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "$out"; fi; }
  want_eq() { [ "$1" = "$2" ] || { printf '%s\n  expected: %s\n  actual:   %s\n' "$3" "$2" "$1"; return 1; }; }
  want_line() { grep -qxF -- "$2" <<<"$1" || { printf '%s: no line "%s" in:\n%s\n' "$3" "$2" "$1"; return 1; }; }
  want_grep() { grep -qE -- "$2" <<<"$1" || { printf '%s: nothing matches /%s/ in:\n%s\n' "$3" "$2" "$1"; return 1; }; }
  sha() { sha256sum -- "$1" | cut -d' ' -f1; }
  cd "$PKG_ROOT" || exit 1
fi
# shellcheck source=packaging/image-lib.sh
. "$PKG_ROOT/packaging/image-lib.sh"

IMG_ENV=$PKG_DIST/$PKG_NAME-$V-image.env
FX=$WORK/chart # the fixture: host/ is the host's root, root-falco/ the chart's emptyDir for /root/.falco
FX_REL=5.15.0-1009-aws
FX_VER='#26~22.04.1-Ubuntu SMP Thu Jan 1 00:00:00 UTC 2023'
FX_DV=7.0.0+driver
FX_FILE=falco_ubuntu-aws_${FX_REL}_26~22.04.1.ko
FX_TOKEN=ci-token-$RANDOM$RANDOM # a "secret" header value: must reach the server, never the output
img_ctr() { echo "fdl-ci-$$-$1"; } # every container of this run; removed at the end

img_fixture() {
  local h=$FX/host
  mkdir -p "$h/etc" "$h/proc" "$h/boot" "$h/usr/bin" "$h/lib/modules/$FX_REL" "$FX/root-falco" \
    "$h/usr/src/linux-headers-$FX_REL" "$h/usr/src/linux-aws-headers-5.15.0-1009" "$h/usr/src/falco-$FX_DV"
  printf 'NAME="Ubuntu"\nID=ubuntu\nVERSION_ID="22.04"\nVERSION_CODENAME=jammy\n' >"$h/etc/os-release"
  echo "Linux version $FX_REL (buildd@ubuntu) (gcc-11 (Ubuntu 11.2.0-19ubuntu1) 11.2.0) $FX_VER" >"$h/proc/version"
  echo "CONFIG_MODULES=y" >"$h/boot/config-$FX_REL"
  echo "include ../linux-aws-headers-5.15.0-1009/Makefile" >"$h/usr/src/linux-headers-$FX_REL/Makefile"
  echo "# kernel Makefile" >"$h/usr/src/linux-aws-headers-5.15.0-1009/Makefile"
  echo 'PACKAGE_NAME="falco"' >"$h/usr/src/falco-$FX_DV/dkms.conf"
  ln -s "/usr/src/linux-headers-$FX_REL" "$h/lib/modules/$FX_REL/build"
  : >"$h/lib/modules/$FX_REL/modules.dep"
  printf '#!/bin/sh\necho host program: never run\n' >"$h/usr/bin/falco"
  chmod 0755 "$h/usr/bin/falco"
}
img_snapshot() { (cd "$FX/host" && find . -printf '%p %y %m %s %T@ %l\n' | sort); }

# img_run <name> privileged|unprivileged [podman options...] -- <container args...>: the chart's init container.
# Sets OUT (stdout + stderr) and RC (podman's exit code, which is the container's).
img_run() {
  local name=$1 mode=$2 opts=()
  shift 2
  while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1") && shift; done
  shift
  local c
  c=$(img_ctr "$name")
  if [ "$mode" = privileged ]; then opts+=(--privileged); else opts+=(--cap-drop SYS_MODULE --security-opt no-new-privileges); fi
  OUT=$("${IMG_PODMAN[@]}" run --name "$c" "${IMG_LIMITS[@]}" "${opts[@]}" \
    -v "$FX/root-falco:/root/.falco" -v "$FX/host/proc:/host/proc:ro" -v "$FX/host/boot:/host/boot:ro" \
    -v "$FX/host/lib/modules:/host/lib/modules${IMG_MODULES_RO:-}" -v "$FX/host/usr:/host/usr:ro" -v "$FX/host/etc:/host/etc:ro" \
    -e "DRIVER_KERNEL_RELEASE=$FX_REL" -e "DRIVER_KERNEL_VERSION=$FX_VER" -e "FALCOCTL_DRIVER_VERSION=$FX_DV" \
    -e "FALCOCTL_DRIVER_REPOS=${IMG_REPO:-http://falco-mirror.invalid/driver}" \
    -e "FALCOCTL_DRIVER_HTTP_HEADERS=X-Mirror-Token: $FX_TOKEN" -e FALCO_DRIVER_LOADER_RMMOD_WAIT_SECONDS=0 \
    "$IMG_ID" "$@" 2>&1)
  RC=$?
}
no_secret() { ! grep -qF -- "$FX_TOKEN" <<<"$1" || { echo "the header value was printed: $1"; return 1; }; }
# img_server <name> stall|serve [dir]: a local server (packaging/ci-http.mjs); sets SRV_PORT, SRV_PID, SRV_LOG.
img_server() {
  local pf=$WORK/$1.port
  SRV_LOG=$WORK/$1.requests
  : >"$SRV_LOG"
  node "$PKG_ROOT/packaging/ci-http.mjs" "$pf" "$SRV_LOG" "${@:2}" &
  SRV_PID=$!
  for _ in $(seq 100); do [ -s "$pf" ] && break; sleep 0.1; done
  SRV_PORT=$(cat "$pf" 2>/dev/null)
  [ -n "$SRV_PORT" ]
}

img_built() {
  local out
  out=$(npm run --silent build:image 2>&1) || { echo "$out"; return 1; }
  echo "$out"
  # shellcheck disable=SC1090 # written by build-image.sh
  . "$IMG_ENV" && [ -n "$IMAGE_ID" ] || { echo "no image id in $IMG_ENV"; return 1; }
}
img_contents() {
  local out sum
  out=$("${IMG_PODMAN[@]}" run --rm "${IMG_LIMITS[@]}" --network none "$IMAGE_ID" --version 2>&1) || { echo "$out"; return 1; }
  want_eq "$(printf '%s\n' "$out" | sed -n 1p)" "* Setting up /usr/src links from host" "entrypoint's first line" &&
    want_eq "$(printf '%s\n' "$out" | sed -n 2p)" "falco-driver-loader $V" "--version through the entrypoint" || return 1
  sum=$("${IMG_PODMAN[@]}" run --rm "${IMG_LIMITS[@]}" --network none --entrypoint sha256sum "$IMAGE_ID" /usr/bin/falco-driver-loader | cut -d' ' -f1)
  want_eq "$sum" "$(sha "$EXE")" "sha256 of /usr/bin/falco-driver-loader vs. $EXE" || return 1
  out=$("${IMG_PODMAN[@]}" run --rm "${IMG_LIMITS[@]}" --network none --entrypoint sh "$IMAGE_ID" -c \
    'find /usr/share/doc -type f ! -name copyright; find /usr/share/man /usr/share/info /usr/share/locale /var/lib/apt/lists /var/cache/apt -mindepth 1 ! -type d; for t in dkms make gcc gcc-11 clang llc insmod modprobe patchelf; do command -v $t >/dev/null || echo "missing $t"; done' 2>&1)
  want_eq "$out" "" "documentation, caches or toolchains"
}

img_print_env() {
  img_run print-env privileged --network none -- --print-env kmod
  want_eq "$RC" 0 "exit code" || { echo "$OUT"; return 1; }
  want_line "$OUT" 'TARGET_ID="ubuntu-aws"' "--print-env" &&
    want_line "$OUT" "KERNEL_RELEASE=\"$FX_REL\"" "--print-env" &&
    want_line "$OUT" 'KERNEL_VERSION="26~22.04.1"' "--print-env" &&
    want_line "$OUT" "DRIVER_VERSION=\"$FX_DV\"" "--print-env (FALCOCTL_DRIVER_VERSION)" &&
    want_line "$OUT" 'DRIVERS_REPO="http://falco-mirror.invalid/driver"' "--print-env (FALCOCTL_DRIVER_REPOS)" &&
    want_line "$OUT" 'DRIVER="module"' "--print-env (kmod)" && no_secret "$OUT"
}
img_dry_run() {
  img_run dry-kmod privileged --network none -- --dry-run kmod
  want_eq "$RC" 0 "kmod: exit code" || { echo "$OUT"; return 1; }
  want_grep "$OUT" "^  target id: +ubuntu-aws$" "kmod --dry-run" &&
    want_grep "$OUT" "^  kernel release: +$FX_REL  \(environment \(DRIVER_KERNEL_RELEASE\)\)$" "kmod --dry-run" &&
    want_grep "$OUT" "^  distro: +ubuntu  \(/host/etc/os-release\)$" "kmod --dry-run" &&
    want_grep "$OUT" "^  file name: +$FX_FILE$" "kmod --dry-run" &&
    want_grep "$OUT" "^    1\. http://falco-mirror\.invalid/driver/7\.0\.0%2Bdriver/x86_64/$FX_FILE$" "kmod --dry-run" &&
    want_grep "$OUT" "^  cache path: +/root/\.falco/7\.0\.0\+driver/x86_64/$FX_FILE  \(absent\)$" "kmod --dry-run" &&
    no_secret "$OUT" || return 1
  img_run dry-modern privileged --network none -- --dry-run modern_ebpf
  want_eq "$RC" 0 "modern_ebpf: exit code" || { echo "$OUT"; return 1; }
  want_grep "$OUT" "^  driver: +modern_ebpf  \(command line\)$" "modern_ebpf --dry-run" &&
    want_grep "$OUT" "check that this kernel can run modern_ebpf: kernel $FX_REL is 5\.8 or newer" "modern_ebpf --dry-run" || return 1
  img_run dry-auto privileged --network none -- --download --dry-run auto
  want_eq "$RC" 0 "auto: exit code" || { echo "$OUT"; return 1; }
  want_grep "$OUT" "^  driver: +auto  \(command line\)$" "auto --dry-run" &&
    want_grep "$OUT" "^  compile: +no$" "auto --dry-run (initContainer args --download)"
}
img_arg_error() {
  local lines
  img_run bad-arg privileged --network none -- --no-such-option kmod
  want_eq "$RC" 1 "podman run's exit code (the container's)" || { echo "$OUT"; return 1; }
  want_eq "$(podman inspect --format '{{.State.ExitCode}}' "$(img_ctr bad-arg)")" 1 "podman inspect .State.ExitCode" &&
    want_line "$OUT" "Unknown option: --no-such-option" "output"
}
img_links() { # what the privileged --print-env container's entrypoint left in the image's file system
  local c mnt d e want got
  c=$(img_ctr print-env)
  d=$(podman diff --format json "$c" 2>&1) || { echo "podman diff: $d"; return 1; }
  # Besides the links: the mount points the runtime made for the chart's volumes (and their parents), and /etc, where
  # it mounts hosts, hostname and resolv.conf. A file written anywhere would be listed itself.
  got=$(printf '%s' "$d" | node -e 'const d = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log([...(d.added ?? []), ...(d.changed ?? []).map((p) => `changed ${p}`)].sort().join("\n"))')
  want=$( (printf '%s\n' /host /host/boot /host/etc /host/lib /host/lib/modules /host/proc /host/usr /root/.falco "changed /etc" "changed /root" "changed /usr" "changed /usr/src"
    cd "$FX/host/usr/src" && for e in *; do echo "/usr/src/$e"; done) | sort)
  want_eq "$got" "$want" "files the container added (podman diff)" || return 1
  mnt=$(podman mount "$c") || return 1
  for e in "$FX"/host/usr/src/*; do
    e=${e##*/}
    want_eq "$(readlink "$mnt/usr/src/$e")" "/host/usr/src/$e" "link /usr/src/$e" || { podman umount "$c" >/dev/null; return 1; }
  done
  want_eq "$(readlink "$mnt/lib/modules")" "/host/lib/modules" "/lib/modules" || { podman umount "$c" >/dev/null; return 1; }
  podman umount "$c" >/dev/null
}
img_sigterm() { # a download stalled by the mirror's proxy; podman stop sends SIGTERM, SIGKILL after 5 s
  local c t0 t1 req
  img_server stall stall || { echo "the stalling server did not start"; return 1; }
  c=$(img_ctr sigterm)
  "${IMG_PODMAN[@]}" run -d --name "$c" "${IMG_LIMITS[@]}" --cap-drop SYS_MODULE --security-opt no-new-privileges \
    --network host -v "$FX/root-falco:/root/.falco" -v "$FX/host/proc:/host/proc:ro" -v "$FX/host/boot:/host/boot:ro" \
    -v "$FX/host/lib/modules:/host/lib/modules" -v "$FX/host/usr:/host/usr:ro" -v "$FX/host/etc:/host/etc:ro" \
    -e "DRIVER_KERNEL_RELEASE=$FX_REL" -e "DRIVER_KERNEL_VERSION=$FX_VER" -e "FALCOCTL_DRIVER_VERSION=$FX_DV" \
    -e FALCOCTL_DRIVER_REPOS=http://falco-mirror.invalid/driver -e "http_proxy=http://127.0.0.1:$SRV_PORT" \
    -e "FALCOCTL_DRIVER_HTTP_HEADERS=X-Mirror-Token: $FX_TOKEN" -e FALCO_DRIVER_LOADER_RMMOD_WAIT_SECONDS=0 \
    "$IMAGE_ID" --download kmod >/dev/null || { kill "$SRV_PID"; echo "podman run -d failed"; return 1; }
  for _ in $(seq 300); do [ -s "$SRV_LOG" ] && break; sleep 0.1; done
  req=$(head -n 1 "$SRV_LOG")
  t0=$EPOCHREALTIME
  podman stop -t 5 "$c" >/dev/null
  t1=$EPOCHREALTIME
  kill "$SRV_PID" 2>/dev/null
  OUT=$(podman logs "$c" 2>&1)
  RC=$(podman inspect --format '{{.State.ExitCode}}' "$c")
  [ -n "$req" ] || { echo "the loader never reached the proxy: $OUT"; return 1; }
  want_grep "$req" "\"url\":\"http://falco-mirror\\.invalid/driver/7\\.0\\.0%2Bdriver/x86_64/$FX_FILE\"" "the request the proxy got (http_proxy)" &&
    want_grep "$req" "\"x-mirror-token\":\"$FX_TOKEN\"" "the request the proxy got (FALCOCTL_DRIVER_HTTP_HEADERS)" || return 1
  # 143 is the loader's own SIGTERM exit (128 + 15, src/system/lock.ts); 137 would be podman's SIGKILL after 5 s.
  want_eq "$RC" 143 "the container's exit code after podman stop -t 5" || { echo "$OUT"; return 1; }
  no_secret "$OUT" || return 1
  IMG_STOP_SECONDS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  echo "podman stop took $IMG_STOP_SECONDS s; the proxy saw: $req"
}
img_read_only() { # only /root/.falco writable; a download the loader must refuse before insmod (wrong vermagic)
  local repo=$WORK/ro-repo/$FX_DV/x86_64 dv_dir
  mkdir -p "$repo"
  printf 'const char m[] __attribute__((section(".modinfo"), used)) = "vermagic=5.15.0-9999-aws SMP mod_unload modversions \\0name=falco\\0version=%s";\n' "$FX_DV" >"$WORK/ro.c"
  gcc -c -o "$repo/$FX_FILE" "$WORK/ro.c" || { echo "gcc could not make the stand-in module"; return 1; }
  img_server ro serve "$WORK/ro-repo" || { echo "the file server did not start"; return 1; }
  # The chart mounts /host/lib/modules read-write: here it is read-only too.
  IMG_REPO=http://127.0.0.1:$SRV_PORT IMG_MODULES_RO=:ro img_run read-only unprivileged --read-only --read-only-tmpfs=false \
    --network host -- --download kmod
  kill "$SRV_PID" 2>/dev/null
  want_eq "$RC" 1 "exit code" || { echo "$OUT"; return 1; }
  want_line "$OUT" "* /usr/src is read-only: the host's /usr/src entries are not linked (compiling may not find the host's kernel headers)" "entrypoint" &&
    want_grep "$(cat "$SRV_LOG")" "\"url\":\"/7\\.0\\.0%2Bdriver/x86_64/$FX_FILE\"" "the request the server got" &&
    want_grep "$OUT" "built for 5\.15\.0-9999-aws, this kernel is $FX_REL" "the refusal before insmod" || return 1
  # The loader's own writes (lock, download temp file) go to /root/.falco; Node names a failed one EROFS. (dkms'
  # cleaning-phase `dkms status` cannot make its temp file in the read-only /tmp and says so: harmless here.)
  if grep -q 'EROFS' <<<"$OUT"; then echo "a write of the loader failed: $OUT"; return 1; fi
  dv_dir=$FX/root-falco/$FX_DV/x86_64
  want_eq "$(find "$FX/root-falco" -type f ! -name '*.lock' ! -name .lock)" "" "files left in /root/.falco (nothing partial, nothing refused)" || return 1
  [ -d "$dv_dir" ] || { echo "the loader did not write its cache dir $dv_dir"; return 1; }
  IMG_MODULES_RO=:ro img_run ro-print-env unprivileged --read-only --read-only-tmpfs=false --network none -- --print-env kmod
  want_eq "$RC" 0 "--print-env exit code" && want_line "$OUT" 'TARGET_ID="ubuntu-aws"' "--print-env"
}

if [ "$IS_ROOT" != yes ]; then
  skip "image: podman build and chart runs" "needs root (rootless podman is not set up by this script)"
else
  t=$(date +%s)
  if out=$(img_built 2>&1) && . "$IMG_ENV"; then
    pass "image: npm run build:image (debootstrapped base, podman --pull=never): $((IMAGE_SIZE / 1000000)) MB ($(($(date +%s) - t)) s)"
    printf '%s\n' "$out" | sed 's/^/     /'
    IMG_ID=$IMAGE_ID
    img_fixture
    img_snapshot >"$WORK/chart-before.txt"
    check "image: entrypoint runs this checkout's x86_64 executable (sha256, --version); no docs, apt lists or caches; toolchains present" img_contents
    check "image as the chart's init container (privileged, chart mounts, FALCOCTL_DRIVER_*): --print-env kmod names the fixture host's target and kernel" img_print_env
    check "image as the chart's init container: --dry-run kmod / modern_ebpf / --download auto name the target, kernel, file name and URL" img_dry_run
    check "image as the chart's init container: an argument error exits 1, and so does the container" img_arg_error
    check "image: the entrypoint linked exactly the host's /usr/src entries (podman diff, readlink); /lib/modules -> /host/lib/modules" img_links
    if out=$(img_sigterm 2>&1); then
      pass "image: SIGTERM (podman stop -t 5) during a download stalled at the proxy: the loader exits 143 itself (http_proxy and FALCOCTL_DRIVER_HTTP_HEADERS reach the proxy; unprivileged)"
      printf '%s\n' "$out" | sed 's/^/     /'
    else
      fail "image: SIGTERM (podman stop -t 5) during a stalled download" "$out"
    fi
    check "image: podman run --read-only with only /root/.falco writable: downloads and refuses a wrong-vermagic module before insmod; --print-env works (unprivileged)" img_read_only
    img_snapshot >"$WORK/chart-after.txt"
    check "image: nothing on the host mounts was written (fixture host tree before/after)" diff -u "$WORK/chart-before.txt" "$WORK/chart-after.txt"
    mapfile -t ctrs < <(podman ps -a --format '{{.Names}}' | grep "^fdl-ci-$$-")
    [ ${#ctrs[@]} = 0 ] || podman rm -f "${ctrs[@]}" >/dev/null 2>&1
  else
    fail "image: npm run build:image" "$out"
  fi
fi
if [ "${IMG_ALONE:-}" = yes ]; then
  echo "image-check: $PASSED passed, $FAILED failed, $SKIPPED skipped"
  [ "$FAILED" = 0 ]
fi

# Leg 40-image, guest side (sourced by /init for `e2e.leg=40-image`; busybox sh; helpers begin/end/check/has/
# lacks/eq/kloads from /init). The built image's file system is the virtio disk /dev/vda (ext4); this guest plays
# the chart's node: its /proc, /boot, /lib/modules, /usr and /etc are bound under the image's /host as the chart
# mounts them (/lib/modules read-write, the rest read-only), a directory plays the emptyDir at /root/.falco, and
# the container runtime's part (/proc, /sys, /dev, /tmp in the container) is mounted before `chroot`.
. /e2e/image/env # IMG_DL_NAME, IMG_DL_VERSION, IMG_DL_FILE, IMG_DL_MODVER, IMG_DL_KIND, IMG_CC_VERSION

I=/image
EMPTYDIR=/tmp/chart-root-falco
img_fail_all() { for id in image-download image-compile image-modern; do echo "E2E $id FAIL $1"; done; }

echo "== image leg: loading the guest kernel's disk modules: $(tr '\n' ' ' </e2e/image/modules.order)"
while read -r m; do
  /usr/sbin/insmod "/e2e/image/modules/$m.ko" || echo "insmod $m failed"
done </e2e/image/modules.order
n=0
while [ ! -b /dev/vda ] && [ $n -lt 50 ]; do sleep 0.2 && n=$((n + 1)); done
mkdir -p $I
if ! mount -t ext4 /dev/vda $I; then
  img_fail_all "the image disk (/dev/vda, ext4) did not mount: $(dmesg | tail -n 5 | tr '\n' ' ')"
  return 0
fi

# The chart's mounts (values: /root/.falco emptyDir; /host/proc, /host/boot, /host/usr, /host/etc read-only;
# /host/lib/modules read-write), then what the container runtime gives every container.
bind() { # bind <from> <to> [ro]
  mkdir -p "$2" && mount -o bind "$1" "$2" && { [ "${3:-}" != ro ] || mount -o remount,bind,ro "$2"; }
}
mkdir -p $EMPTYDIR
# What runc puts into every container's /dev (dkms' <(...) needs /dev/fd); devtmpfs is shared with the guest's /dev.
for l in fd:/proc/self/fd stdin:/proc/self/fd/0 stdout:/proc/self/fd/1 stderr:/proc/self/fd/2; do
  [ -e "/dev/${l%%:*}" ] || ln -s "${l#*:}" "/dev/${l%%:*}"
done
bind /proc $I/host/proc ro && bind /boot $I/host/boot ro && bind /lib/modules $I/host/lib/modules &&
  bind /usr $I/host/usr ro && bind /etc $I/host/etc ro && bind $EMPTYDIR $I/root/.falco &&
  mount -t proc proc $I/proc && mount -t sysfs sysfs $I/sys && mount -t devtmpfs devtmpfs $I/dev &&
  mount -t tmpfs tmpfs $I/tmp || echo "some mounts failed (see above)"
if touch $I/host/usr/.e2e-written 2>/dev/null; then
  rm -f $I/host/usr/.e2e-written
  echo "note: read-only bind mounts are not supported here: /host/usr is writable"
fi

# in_image <log> <VAR=value...> -- <args...>: the image's entrypoint, with the image's environment (ENV HOST_ROOT,
# HOME) and what the chart would set; 900 s bound (a dkms build under TCG); output shown indented; sets RC.
in_image() {
  log=$1
  shift
  vars=""
  while [ "$1" != -- ]; do vars="$vars $1" && shift; done
  shift
  echo "  \$ chroot $I env$vars /docker-entrypoint.sh $*"
  # shellcheck disable=SC2086 # vars is a list of NAME=value words without spaces
  timeout 900 chroot $I /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root HOST_ROOT=/host TMPDIR=/tmp FALCO_DRIVER_LOADER_RMMOD_WAIT_SECONDS=1 $vars /docker-entrypoint.sh "$@" >"$log" 2>&1
  RC=$?
  sed 's/^/    | /' "$log"
  echo "    | (exit $RC)"
}
mod_loaded() { [ -d "/sys/module/$1" ]; }
mod_version() { cat "/sys/module/$1/version" 2>/dev/null; }
linked() { [ "$(readlink "$I/usr/src/$1")" = "/host/usr/src/$1" ]; }

# image-download: kmod with DRIVERS_REPO at this node's own repository.
begin image-download "the image's entrypoint, kmod, DRIVERS_REPO at 127.0.0.1: downloads, verifies and loads the $IMG_DL_KIND driver"
httpd -f -p 127.0.0.1:8090 -h /e2e/image/repo 2>/tmp/img-httpd.log &
HPID=$!
sleep 1
KM=$(echo "$IMG_DL_NAME" | tr - _)
CACHED_DL="$EMPTYDIR/$IMG_DL_VERSION/x86_64/$IMG_DL_FILE"
in_image /tmp/img-dl.log DRIVERS_REPO=http://127.0.0.1:8090 DRIVER_NAME="$IMG_DL_NAME" DRIVER_VERSION="$IMG_DL_VERSION" -- kmod
check "exit $RC, wanted 0" eq "$RC" 0
check "no '* Setting up /usr/src links from host'" has /tmp/img-dl.log "* Setting up /usr/src links from host"
check "/usr/src/linux-headers-$(uname -r) in the image is not a link to /host/usr/src" linked "linux-headers-$(uname -r)"
check "no download from 127.0.0.1:8090" has /tmp/img-dl.log "* Trying to download a prebuilt $IMG_DL_NAME module from http://127.0.0.1:8090/"
check "no '* Success: $IMG_DL_NAME module found and inserted'" has /tmp/img-dl.log "* Success: $IMG_DL_NAME module found and inserted"
check "/sys/module/$KM missing" mod_loaded "$KM"
check "/sys/module/$KM/version is '$(mod_version "$KM")', served $IMG_DL_MODVER" eq "$(mod_version "$KM")" "$IMG_DL_MODVER"
check "the chart's /root/.falco emptyDir has no $IMG_DL_FILE identical to the served one" \
  cmp -s "$CACHED_DL" "/e2e/image/repo/$IMG_DL_VERSION/x86_64/$IMG_DL_FILE"
end "exit 0; $IMG_DL_KIND $IMG_DL_FILE downloaded into the emptyDir and loaded: /sys/module/$KM/version $(mod_version "$KM")"
rmmod "$KM" 2>/dev/null
kill $HPID 2>/dev/null

# image-compile: the image's dkms and gcc build the stand-in (sources in the image) against this node's headers.
begin image-compile "the image's entrypoint, --compile kmod: the image's dkms and gcc build the driver against the node's headers; it loads"
rm -rf "${EMPTYDIR:?}"/*
L0=$(kloads)
DKO="$I/var/lib/dkms/falco/$IMG_CC_VERSION/$(uname -r)/x86_64/module/falco.ko"
in_image /tmp/img-cc.log DRIVERS_REPO=http://127.0.0.1:8089 DRIVER_VERSION="$IMG_CC_VERSION" -- --compile kmod
check "exit $RC, wanted 0" eq "$RC" 0
check "no dkms attempt with the image's gcc" has /tmp/img-cc.log "* Trying to dkms install falco module with GCC /usr/bin/gcc"
check "no '* Success: falco module found and loaded in dkms'" has /tmp/img-cc.log "* Success: falco module found and loaded in dkms"
check "no module in the image's dkms tree ($DKO)" test -f "$DKO"
check "dkms' make.log shows no compile" grep -q 'CC \[M\]' "$I/var/lib/dkms/falco/$IMG_CC_VERSION/$(uname -r)/x86_64/log/make.log"
check "the built module's .comment names no Debian gcc 12" grep -aq 'GCC: (Debian 12\.' "$DKO"
check "dkms did not install it into the node's /lib/modules/$(uname -r)/updates/dkms" test -f "/lib/modules/$(uname -r)/updates/dkms/falco.ko"
check "/sys/module/falco missing" mod_loaded falco
check "version '$(mod_version falco)', wanted $IMG_CC_VERSION" eq "$(mod_version falco)" "$IMG_CC_VERSION"
check "the kernel did not run the module's init once" eq "$(kloads)" "$((L0 + 1))"
end "exit 0; $(grep -ao 'GCC: (Debian [^)]*) [0-9.]*' "$DKO" 2>/dev/null | head -n 1) via $(chroot $I dkms --version 2>/dev/null) built $(basename "$DKO") for $(uname -r); loaded, version $(mod_version falco)"
rmmod falco 2>/dev/null

# image-modern: the verdict must be what this kernel has, judged here independently of the loader.
begin image-modern "the image's entrypoint, modern_ebpf: reports this kernel's support (BTF, 5.8+), and none without /sys"
rel=$(uname -r)
major=${rel%%.*}
minor=${rel#*.}
minor=${minor%%.*}
expect=1
if [ -f /sys/kernel/btf/vmlinux ] && { [ "$major" -gt 5 ] || { [ "$major" -eq 5 ] && [ "$minor" -ge 8 ]; }; } &&
  ! grep -q '\[confidentiality\]' /sys/kernel/security/lockdown 2>/dev/null; then expect=0; fi
in_image /tmp/img-me.log -- modern_ebpf
check "exit $RC, this kernel says $expect (BTF $([ -f /sys/kernel/btf/vmlinux ] && echo present || echo absent), $rel)" eq "$RC" "$expect"
if [ "$expect" = 0 ]; then
  check "no success line naming $rel and the BTF" has /tmp/img-me.log "* Success: modern_ebpf can run on this kernel (kernel $rel is 5.8 or newer; kernel BTF is at /sys/kernel/btf/vmlinux;"
fi
umount $I/sys
in_image /tmp/img-me2.log -- modern_ebpf
check "without /sys: exit $RC, wanted 1" eq "$RC" 1
check "without /sys: no 'no kernel BTF' line" has /tmp/img-me2.log "modern_ebpf cannot run here: no kernel BTF at /sys/kernel/btf/vmlinux"
end "exit $expect as this kernel has it ($rel, BTF $([ -f /sys/kernel/btf/vmlinux ] && echo present || echo absent)); exit 1 'no kernel BTF' when the container has no /sys"

for m in $I/tmp $I/dev $I/proc $I/root/.falco $I/host/etc $I/host/usr $I/host/lib/modules $I/host/boot $I/host/proc $I; do
  umount "$m" 2>/dev/null
done

# shellcheck shell=sh disable=SC2154 # sourced by test/e2e/guest/init (busybox sh) as /e2e/guest.d/20-real-driver.sh
# Issue #14, guest side: Falco's real driver (Debian's scap, built on the build machine by real-compile) and a real
# consumer (sysdig), on the real kernel. Staged by test/e2e/legs/20-real-driver.sh: /e2e/real/env, the module in
# /srv/repo-real/<version>/x86_64/<legacy file name>, /e2e/real/scap-old.ko (same source, version RD_OLD_V),
# /e2e/real/tree (what dkms installed under /lib/modules/<release>), /usr/bin/sysdig + its libraries.
# Scenarios: real-load, real-busy, real-upgrade, real-modprobe, real-clean. Leaves the guest as it found it (scap
# unloaded, its files and server gone, DRIVER_NAME/DRIVER_VERSION/DRIVERS_REPO as before).

. /e2e/real/env # RD_V RD_OLD_V RD_FILE RD_SIZE RD_SYSDIG
RD_SAVED_REPO=$DRIVERS_REPO
export DRIVERS_REPO # (a leg's own boot skips scenario 0, which exports it)
export DRIVER_NAME=scap DRIVER_VERSION="$RD_V"
RD_CACHED="/root/.falco/$RD_V/x86_64/$RD_FILE"
RD_URL="http://127.0.0.1:8090/$(echo "$RD_V" | sed 's/+/%2B/g')/x86_64/$RD_FILE"
httpd -f -vv -p 127.0.0.1:8090 -h /srv/repo-real 2>>/tmp/httpd-8090.log &
RD_HTTPD=$!
sleep 1

rd_loaded() { [ -d /sys/module/scap ] && grep -q '^scap ' /proc/modules; }
rd_unloaded() { [ ! -e /sys/module/scap ] && ! grep -q '^scap ' /proc/modules; }
rd_version() { cat /sys/module/scap/version 2>/dev/null; }
rd_version_is() { [ "$(rd_version)" = "$1" ]; }
rd_dev() { [ -c /dev/scap0 ]; }
rd_ge() { [ "$1" -ge "$2" ] 2>/dev/null; }
rd_before() { # <log> <first> <second>: the first line comes before the second
  a=$(grep -nF -- "$2" "$1" | head -n 1 | cut -d: -f1)
  b=$(grep -nF -- "$3" "$1" | head -n 1 | cut -d: -f1)
  [ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ]
}
rd_starts() { case "$1" in "$2"*) return 0 ;; esac && return 1; }
rd_contains() { case "$1" in *"$2"*) return 0 ;; esac && return 1; }
rd_lines() { grep -c . "$1" 2>/dev/null || true; }
# A process named e2e-tick makes a few syscalls every 0.1 s, so that a capture never waits for events.
printf '#!/bin/sh\nwhile :; do read -r _ </proc/uptime; sleep 0.1; done\n' >/tmp/e2e-tick && chmod +x /tmp/e2e-tick

# rd_capture <out>: sysdig prints up to 200 events read through the driver ("<type> <process>" lines). HOST_ROOT is
# unset for it: libscap opens ${HOST_ROOT}/dev/scap0. Sets RD_CAP_RC, RD_EVENTS, RD_CAP_S.
rd_capture() {
  t=$(now)
  /tmp/e2e-tick &
  tick=$!
  env -u HOST_ROOT timeout 120 sysdig -n 200 -p '%evt.type %proc.name' >"$1" 2>"$1.err"
  RD_CAP_RC=$?
  kill "$tick" && wait "$tick" 2>/dev/null
  RD_EVENTS=$(grep -cE '^[a-z_0-9]+ ' "$1")
  RD_CAP_S=$(elapsed "$t")
  echo "    sysdig: exit $RD_CAP_RC, $RD_EVENTS events in $RD_CAP_S: $(head -n 3 "$1" | tr '\n' '|') $(head -c 300 "$1.err")"
}

begin real-load "the loader downloads the real driver under its legacy name, checks and loads it; sysdig captures"
rm -rf /root/.falco
DRIVERS_REPO=http://127.0.0.1:8090
t=$(now)
run_loader /tmp/rl.log
RD_LOAD_S=$(elapsed "$t")
check "exit $RC, wanted 0" eq "$RC" 0
check "no download line for $RD_URL" has /tmp/rl.log "* Trying to download a prebuilt scap module from $RD_URL"
check "no '* Download succeeded'" has /tmp/rl.log "* Download succeeded"
check "no success line" has /tmp/rl.log "* Success: scap module found and inserted"
check "/sys/module/scap missing" rd_loaded
check "/sys/module/scap/version is '$(rd_version)', wanted $RD_V" rd_version_is "$RD_V"
check "no character device /dev/scap0" rd_dev
check "cache $RD_CACHED differs from the served file" cmp -s "$RD_CACHED" "/srv/repo-real/$RD_V/x86_64/$RD_FILE"
rd_capture /tmp/rl-sysdig.out
check "sysdig exit $RD_CAP_RC ($(head -c 200 /tmp/rl-sysdig.out.err))" eq "$RD_CAP_RC" 0
check "sysdig printed $RD_EVENTS events, wanted at least 50" rd_ge "$RD_EVENTS" 50
end "exit 0, $RD_FILE ($((RD_SIZE / 1024)) KiB) downloaded and loaded in $RD_LOAD_S; /sys/module/scap/version $(rd_version); $(ls /dev | grep -c '^scap[0-9]') /dev/scapN; $RD_SYSDIG: $RD_EVENTS events in $RD_CAP_S"

begin real-busy "while sysdig holds /dev/scap0, a run for the same driver cannot unload it: bounded wait, one line, exit 1"
# rd_ticks <n>: the ticker runs until sysdig has printed n lines of its events (at most 60 s), then stops; it does not
# run during the loader's run, where sysdig already has every syscall of the loader to read.
rd_ticks() {
  /tmp/e2e-tick &
  tick=$!
  n=0
  while [ "$(rd_lines /tmp/rb-sysdig.out)" -lt "$1" ] && [ "$n" -lt 120 ] && kill -0 "$RD_SPID" 2>/dev/null; do
    sleep 0.5 && n=$((n + 1))
  done
  kill "$tick" && wait "$tick" 2>/dev/null
}
env -u HOST_ROOT sysdig --unbuffered -p '%evt.num %evt.type' 'proc.name=e2e-tick' >/tmp/rb-sysdig.out 2>/tmp/rb-sysdig.err &
RD_SPID=$!
rd_ticks 5
check "sysdig did not start capturing ($(head -c 200 /tmp/rb-sysdig.err))" rd_ge "$(rd_lines /tmp/rb-sysdig.out)" 5
RD_REFCNT=$(cat /sys/module/scap/refcnt 2>/dev/null)
t=$(now)
# The 10 attempts 0.2 s apart instead of the guest's 1 s (the default is 5 s): the same bounded loop, sooner over.
RD_WAIT=$FALCO_DRIVER_LOADER_RMMOD_WAIT_SECONDS
export FALCO_DRIVER_LOADER_RMMOD_WAIT_SECONDS=0.2
run_loader /tmp/rb.log
FALCO_DRIVER_LOADER_RMMOD_WAIT_SECONDS=$RD_WAIT
RD_BUSY_S=$(elapsed "$t")
N1=$(rd_lines /tmp/rb-sysdig.out)
rd_ticks "$((N1 + 5))"
N2=$(rd_lines /tmp/rb-sysdig.out)
RD_LINE=$(tail -n 1 /tmp/rb.log)
check "exit $RC, wanted 1" eq "$RC" 1
check "$(grep -c "Trying to unload it with 'rmmod scap'" /tmp/rb.log) rmmod attempts, wanted 10" \
  eq "$(grep -c "Trying to unload it with 'rmmod scap'" /tmp/rb.log)" 10
check "no 'in use' from rmmod" has /tmp/rb.log "Module scap is in use"
check "the last line is '$RD_LINE', not the in-use line naming sysdig (pid $RD_SPID) and the use count $RD_REFCNT" rd_starts "$RD_LINE" \
  "Kernel module 'scap' is still in use after 10 rmmod attempts (use count $RD_REFCNT; open in sysdig (pid $RD_SPID): /dev/scap0"
check "the line does not say what to do" rd_contains "$RD_LINE" "): stop what uses it (Falco: systemctl stop falco, or stop its container), then run falco-driver-loader again"
check "went on to load a module" lacks /tmp/rb.log "prebuilt scap module"
check "tried modprobe" lacks /tmp/rb.log "Trying to load a system scap module"
check "scap is not loaded any more" rd_loaded
check "/sys/module/scap/version is '$(rd_version)'" rd_version_is "$RD_V"
check "/dev/scap0 is gone" rd_dev
check "sysdig died" kill -0 "$RD_SPID"
check "sysdig stopped capturing ($N1 then $N2 events)" rd_ge "$N2" "$((N1 + 5))"
kill "$RD_SPID" && wait "$RD_SPID" 2>/dev/null
end "exit 1 after 10 rmmod attempts ($RD_BUSY_S): '$RD_LINE'; scap $(rd_version) still loaded, sysdig still capturing ($N1 -> $N2 events)"

begin real-upgrade "an older scap is loaded; a run for the new version unloads it in the Cleaning phase and loads the new one"
[ -e /sys/module/scap ] && /usr/sbin/rmmod scap
/usr/sbin/insmod /e2e/real/scap-old.ko
check "the older driver did not load: version '$(rd_version)', wanted $RD_OLD_V" rd_version_is "$RD_OLD_V"
rm -rf /root/.falco
DRIVERS_REPO=http://127.0.0.1:8090
t=$(now)
run_loader /tmp/ru.log
RD_UP_S=$(elapsed "$t")
check "exit $RC, wanted 0" eq "$RC" 0
check "no 'still loaded'" has /tmp/ru.log "- Kernel module 'scap' is still loaded."
check "no rmmod success" has /tmp/ru.log "- OK! Unloading 'scap' module succeeded."
check "the unload does not come before the load" rd_before /tmp/ru.log "- OK! Unloading 'scap' module succeeded." "* Download succeeded"
check "no success line" has /tmp/ru.log "* Success: scap module found and inserted"
check "/sys/module/scap/version is '$(rd_version)', wanted $RD_V" rd_version_is "$RD_V"
check "a version warning" lacks /tmp/ru.log "[WARNING]"
check "no /dev/scap0" rd_dev
rd_capture /tmp/ru-sysdig.out
check "sysdig exit $RD_CAP_RC ($(head -c 200 /tmp/ru-sysdig.out.err))" eq "$RD_CAP_RC" 0
check "sysdig printed $RD_EVENTS events, wanted at least 50" rd_ge "$RD_EVENTS" 50
end "exit 0 in $RD_UP_S: $RD_OLD_V unloaded, $(rd_version) loaded; sysdig $RD_EVENTS events in $RD_CAP_S"

begin real-modprobe "every repository down: the loader's modprobe step loads the module dkms installed (the --compile contract)"
mkdir -p "/lib/modules/$REL" && cp -r /e2e/real/tree/updates "/lib/modules/$REL/"
# dkms runs depmod after installing; the confined dkms on the build machine could not (--no-depmod).
/usr/sbin/depmod "$REL" 2>/tmp/rm-depmod.err
rm -rf /root/.falco
DRIVERS_REPO=http://127.0.0.1:8089
# Nothing listens there; no retries of the refused connection (they would only add 7 s).
export DRIVER_CURL_OPTIONS='--retry 0'
run_loader /tmp/rm.log
unset DRIVER_CURL_OPTIONS
check "exit $RC, wanted 0" eq "$RC" 0
check "no rmmod success (the Cleaning phase)" has /tmp/rm.log "- OK! Unloading 'scap' module succeeded."
check "no 'Download failed'" has /tmp/rm.log "Download failed:"
check "no modprobe step" has /tmp/rm.log "* Trying to load a system scap module, if present"
check "no modprobe success line" has /tmp/rm.log "* Success: scap module found and loaded with modprobe"
check "/sys/module/scap/version is '$(rd_version)', wanted $RD_V" rd_version_is "$RD_V"
check "modprobe resolves scap to '$(/usr/sbin/modinfo -F filename scap 2>&1)'" \
  eq "$(/usr/sbin/modinfo -F filename scap 2>/dev/null)" "/lib/modules/$REL/updates/dkms/scap.ko"
check "no /dev/scap0" rd_dev
end "exit 0: modprobe loaded /lib/modules/$REL/updates/dkms/scap.ko, version $(rd_version)"

begin real-clean "--clean unloads the real driver; sysdig can no longer open it"
# sysdig runs `modprobe scap` itself when it cannot open the device: the installed copy goes first.
rm -rf "/lib/modules/$REL/updates" "/lib/modules/$REL"/modules.*
run_loader /tmp/rc.log --clean
check "exit $RC, wanted 0" eq "$RC" 0
check "no rmmod success" has /tmp/rc.log "- OK! Unloading 'scap' module succeeded."
check "/sys/module/scap still there" rd_unloaded
check "/dev/scap0 still there" eval '! rd_dev'
env -u HOST_ROOT timeout 60 sysdig -n 10 >/tmp/rc-sysdig.out 2>/tmp/rc-sysdig.err
RD_CAP_RC=$?
check "sysdig exit $RD_CAP_RC, wanted non-zero" eval '[ "$RD_CAP_RC" != 0 ]'
check "sysdig printed events" eq "$(rd_lines /tmp/rc-sysdig.out)" 0
check "sysdig's error does not name the device: '$(head -c 200 /tmp/rc-sysdig.err)'" has /tmp/rc-sysdig.err "scap"
check "scap came back" rd_unloaded
end "exit 0, /sys/module/scap gone; sysdig exit $RD_CAP_RC: '$(grep -m 1 . /tmp/rc-sysdig.err)'"

# Leave the guest as it was for the next leg.
[ -e /sys/module/scap ] && /usr/sbin/rmmod scap
rm -rf /root/.falco "/lib/modules/$REL/updates" "/lib/modules/$REL"/modules.*
kill "$RD_HTTPD" 2>/dev/null && wait "$RD_HTTPD" 2>/dev/null
unset DRIVER_NAME
DRIVER_VERSION="$SERVED_VERSION"
DRIVERS_REPO=$RD_SAVED_REPO

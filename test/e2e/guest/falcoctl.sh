# shellcheck shell=sh disable=SC2154 # sourced by guest/init in the leg's own boot (e2e.leg=30-falcoctl)
# Leg 30 (issue 15): legacy runs of the loader handed off to the real falcoctl releases staged under
# /e2e/falcoctl/<tag>/falcoctl (test/e2e/legs/30-falcoctl.sh). /e2e/falcoctl.env: FC_NAME/FC_VER/FC_FILE (the driver
# served by 127.0.0.1:8090, and its refused copy on 8091), FC_RUN ("<tag>:<scenario>,<scenario>;..."),
# FC_STANDIN_FILE (the stand-in's file name, for compile-fallback). init's helpers: begin/end/check/has/run_loader.
. /e2e/falcoctl.env
httpd -f -vv -p 127.0.0.1:8090 -h /srv/fc-good 2>>/tmp/httpd-8090.log &
httpd -f -vv -p 127.0.0.1:8091 -h /srv/fc-refused 2>>/tmp/httpd-8091.log &
sleep 1
BASE_PATH=$PATH
export DRIVERS_REPO
export FALCO_DRIVER_LOADER_FALCOCTL=auto
fc_loaded() { [ -d "/sys/module/$1" ]; }
fc_gone() { [ ! -e "/sys/module/$1" ] && ! grep -q "^$1 " /proc/modules; }
fc_served() { grep -cF "url:/$FC_VER/x86_64/$FC_FILE" "/tmp/httpd-$1.log"; }
fc_reset() {
  rm -rf /root/.falco /etc/falcoctl /var/lib/dkms
  DRIVER_NAME=$FC_NAME DRIVER_VERSION=$FC_VER
  export DRIVER_NAME DRIVER_VERSION
}

fc_install() { # tag
  fc_reset
  begin "falcoctl-$1-install" "falcoctl $1: a default legacy run hands off; falcoctl downloads and loads $FC_NAME"
  H0=$(fc_served 8090)
  DRIVERS_REPO=http://127.0.0.1:8090
  run_loader "/tmp/fc-$1-install.log"
  check "exit $RC, wanted 0" eq "$RC" 0
  check "not handed off to /e2e/falcoctl/$1/falcoctl driver install --type=kmod" \
    has "/tmp/fc-$1-install.log" "* Handing off to falcoctl: /e2e/falcoctl/$1/falcoctl driver install --type=kmod"
  check "falcoctl did not download $FC_FILE from the repository" eq "$(fc_served 8090)" "$((H0 + 1))"
  check "/sys/module/$FC_NAME missing" fc_loaded "$FC_NAME"
  check "/sys/module/$FC_NAME/version is '$(cat "/sys/module/$FC_NAME/version" 2>/dev/null)'" \
    eq "$(cat "/sys/module/$FC_NAME/version" 2>/dev/null)" "$FC_VER"
  end "exit 0, falcoctl $1 downloaded $FC_FILE and loaded it, version $(cat "/sys/module/$FC_NAME/version" 2>/dev/null)"
}

fc_clean() { # tag
  fc_reset
  begin "falcoctl-$1-clean" "falcoctl $1: --clean hands off to driver cleanup, which unloads $FC_NAME"
  # Independent of install: load it here when install did not.
  fc_loaded "$FC_NAME" || /usr/sbin/insmod "/srv/fc-good/$FC_VER/x86_64/$FC_FILE"
  check "could not load $FC_NAME before cleaning" fc_loaded "$FC_NAME"
  DRIVERS_REPO=http://127.0.0.1:8090
  run_loader "/tmp/fc-$1-clean.log" --clean
  check "exit $RC, wanted 0" eq "$RC" 0
  check "not handed off to driver cleanup" has "/tmp/fc-$1-clean.log" "* Handing off to falcoctl: /e2e/falcoctl/$1/falcoctl driver cleanup --type=kmod"
  check "/sys/module/$FC_NAME still there" fc_gone "$FC_NAME"
  end "exit 0, falcoctl $1 driver cleanup unloaded $FC_NAME"
}

fc_refused() { # tag
  fc_reset
  begin "falcoctl-$1-refused-module" "falcoctl $1: the repository serves $FC_FILE built for another kernel"
  DRIVERS_REPO=http://127.0.0.1:8091
  M0=$(dmesg | grep -c 'disagrees about version of symbol')
  run_loader "/tmp/fc-$1-refused.log"
  check "exit $RC, wanted 1" eq "$RC" 1
  check "not handed off" has "/tmp/fc-$1-refused.log" "* Handing off to falcoctl: /e2e/falcoctl/$1/falcoctl driver install"
  check "falcoctl did not download it" eq "$(fc_served 8091)" 1
  check "the kernel did not refuse it" eq "$(dmesg | grep -c 'disagrees about version of symbol')" "$((M0 + 1))"
  check "no 'not loaded' line" has "/tmp/fc-$1-refused.log" "falcoctl reported success, but the $FC_NAME module is not loaded"
  check "$FC_NAME is loaded" fc_gone "$FC_NAME"
  end "exit 1: '$(grep -o 'falcoctl reported success, but .* is not loaded' "/tmp/fc-$1-refused.log" | head -n 1)'; kernel: '$(dmesg | grep -o 'disagrees about version of symbol.*' | tail -n 1)'"
  : >/tmp/httpd-8091.log
}

fc_compile() { # tag
  fc_reset
  rm -f /tmp/dkms.log
  mkdir -p "/lib/modules/$REL/build"
  DRIVER_NAME=falco DRIVER_VERSION=$SERVED_VERSION
  begin "falcoctl-$1-compile-fallback" "falcoctl $1: repository down, DKMS source and headers present: falcoctl builds with DKMS"
  DRIVERS_REPO=http://127.0.0.1:8089
  PATH=/e2e/dkms-bin:$PATH
  run_loader "/tmp/fc-$1-compile.log"
  PATH=${PATH#/e2e/dkms-bin:}
  check "exit $RC, wanted 0" eq "$RC" 0
  check "not handed off with --compile=true" has "/tmp/fc-$1-compile.log" "--compile=true --download=true"
  check "falcoctl's dkms call ($(tr '\n' ' ' </tmp/dkms.log 2>/dev/null)) is not the expected one" \
    grep -qF "install --directive=MAKE='/tmp/falco-dkms-make' -m falco -v $SERVED_VERSION -k $REL" /tmp/dkms.log
  check "/sys/module/falco missing" fc_loaded falco
  # Why a compile with TMPDIR elsewhere stays standalone: falcoctl itself (run directly) writes its make wrapper to
  # /tmp whatever TMPDIR says.
  # (~/.falco emptied first: falcoctl reuses a built driver it finds there instead of building)
  rm -rf /root/.falco /var/lib/dkms && mkdir -p /tmp/elsewhere && : >/tmp/dkms.log
  PATH=/e2e/dkms-bin:$PATH
  TMPDIR=/tmp/elsewhere timeout 120 "/e2e/falcoctl/$1/falcoctl" driver install --type=kmod --name=falco \
    --version="$SERVED_VERSION" --host-root=/host --download=false --compile=true >"/tmp/fc-$1-tmpdir.log" 2>&1
  grep -E 'WARN|ERROR|dkms' "/tmp/fc-$1-tmpdir.log" | sed 's/^/    | /'
  check "with TMPDIR=/tmp/elsewhere falcoctl's dkms call was '$(grep -m1 '^install' /tmp/dkms.log)'" \
    grep -qF -e "--directive=MAKE='/tmp/falco-dkms-make'" /tmp/dkms.log
  PATH=${PATH#/e2e/dkms-bin:}
  end "exit 0, falcoctl $1 built through dkms ($(grep -m1 '^install' /tmp/dkms.log 2>/dev/null)) and loaded falco; with TMPDIR=/tmp/elsewhere it still writes /tmp/falco-dkms-make"
  /usr/sbin/rmmod falco 2>/dev/null
}

echo "E2E BEGIN falcoctl leg: driver $FC_NAME $FC_VER ($FC_FILE); releases: $FC_RUN"
IFS_OLD=$IFS
IFS=';'
for entry in $FC_RUN; do
  IFS=$IFS_OLD
  [ -n "$entry" ] || continue
  tag=${entry%%:*}
  PATH=/e2e/falcoctl/$tag:$BASE_PATH
  case ",${entry#*:}," in *,install,*) fc_install "$tag" ;; esac
  case ",${entry#*:}," in *,clean,*) fc_clean "$tag" ;; esac
  case ",${entry#*:}," in *,refused-module,*) fc_refused "$tag" ;; esac
  case ",${entry#*:}," in *,compile-fallback,*) fc_compile "$tag" ;; esac
  for m in "$FC_NAME" falco; do fc_loaded "$m" && /usr/sbin/rmmod "$m"; done
  PATH=$BASE_PATH
  rm -rf "/e2e/falcoctl/$tag" # frees its RAM for the next release
  IFS=';'
done
IFS=$IFS_OLD
unset DRIVERS_REPO DRIVER_NAME
export DRIVER_VERSION="$SERVED_VERSION" FALCO_DRIVER_LOADER_FALCOCTL=never

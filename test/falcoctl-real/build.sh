#!/usr/bin/env bash
# Builds the real falcoctl releases Falco shipped, from the Go module proxy, for the falcoctl hand-off checks
# (issue 15). Nothing of falcoctl's source is committed: each release is fetched with `go mod download` into the
# machine cache, checked against the sums pinned in versions.txt, and built there.
#
#   bash test/falcoctl-real/build.sh [status-dir]      (FALCOCTL_REAL_ONLY="v0.7.3 ...": only those tags)
#
# Cache (survives a fresh clone; CI builds each version once per machine):
#   ${FALCOCTL_REAL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/falco-driver-loader/falcoctl}/
#     <version>/falcoctl     static binary (CGO_ENABLED=0), written atomically (temp + rename)
#     <version>/build.json   how it was built: seconds, go version, module sums
#     gomodcache/ gocache/   Go's module and build caches, shared by the versions (both are content-addressed and
#                            safe for concurrent use, so releases that share dependencies download/compile them once)
# For every version the status dir gets <version>.status: `ok <seconds> <cached|built>` or `fail <reason>` (one
# line), which the checks read: a version that cannot be built fails its checks with that reason.
#
# Every release is built the same way, as the main module from a writable copy of its module directory (what
# `go mod download -json` reports as Dir): v0.13.0 must be (its go.mod has a `replace`, which `go install pkg@v`
# refuses), and doing it for all of them means the release's own go.sum verifies every dependency. The ldflags are
# the release's .goreleaser.yml ones (semVersion without the leading v, commit, date), so `falcoctl version` prints
# what a released binary prints.
#
# Checksums: the Go proxy's checksum database mirror here answers for some falcoctl tags and 404s for others. For
# those the falcoctl module itself (and only it: GONOSUMDB is scoped to that path) is verified against the sums
# pinned in versions.txt instead — the same h1: hashes go.sum would hold.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_ROOT=${FALCOCTL_REAL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/falco-driver-loader/falcoctl}
STATUS_DIR=${1:-$CACHE_ROOT/last-status}
MODULE=github.com/falcosecurity/falcoctl
mkdir -p "$CACHE_ROOT" "$STATUS_DIR"

export GOMODCACHE=$CACHE_ROOT/gomodcache GOCACHE=$CACHE_ROOT/gocache
export GOFLAGS="-modcacherw -buildvcs=false -trimpath" GOTOOLCHAIN=local CGO_ENABLED=0
export GONOSUMDB=$MODULE GONOSUMCHECK=$MODULE
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then PATH=/usr/local/go/bin:$PATH; fi

status() { printf '%s\n' "$2" >"$STATUS_DIR/$1.status"; echo "falcoctl $1: $2"; }

build_one() { # version sum gomodsum
  local v=$1 sum=$2 gomodsum=$3 out=$CACHE_ROOT/$1 t0 json dir got gotmod src info date commit secs
  if [ -x "$out/falcoctl" ] && [ -f "$out/build.json" ]; then
    status "$v" "ok $(sed -n 's/.*"seconds": *\([0-9.]*\).*/\1/p' "$out/build.json") cached $(sed -n 's/.*"emptyStubs": "\([^"]*\)".*/\1/p' "$out/build.json")"
    return 0
  fi
  command -v go >/dev/null || { status "$v" "fail no Go toolchain on this machine (install Go >= 1.25.7)"; return 0; }
  t0=$EPOCHREALTIME
  if ! json=$(go mod download -json "$MODULE@$v" 2>&1); then
    status "$v" "fail go mod download: $(printf '%s' "$json" | sed -n 's/.*"Error": *"\(.*\)",*$/\1/p' | head -1 | cut -c1-300)"
    return 0
  fi
  dir=$(printf '%s' "$json" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  got=$(printf '%s' "$json" | sed -n 's/^\t"Sum": "\(.*\)",$/\1/p')
  gotmod=$(printf '%s' "$json" | sed -n 's/^\t"GoModSum": "\(.*\)",*$/\1/p')
  if [ "$got" != "$sum" ] || [ "$gotmod" != "$gomodsum" ]; then
    status "$v" "fail checksum mismatch: got $got $gotmod, versions.txt pins $sum $gomodsum"
    return 0
  fi
  info=$GOMODCACHE/cache/download/$MODULE/@v/$v.info
  date=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$info")
  commit=$(sed -n 's/.*"Hash":"\([^"]*\)".*/\1/p' "$info")
  src=$(mktemp -d "$CACHE_ROOT/.src-$v.XXXXXX")
  cp -r "$dir/." "$src/"
  chmod -R u+w "$src"
  # The proxy here refuses (403) a few modules that a release's go.mod lists but whose packages the binary never
  # compiles (go needs their go.mod only to build the module graph). Each such module is replaced by an empty local
  # module (just a go.mod): if any package of it were really needed, the build would fail ("no required module
  # provides package"), so a binary built this way holds exactly the release's code. The stubs are reported.
  local stubs="" attempt blocked
  for attempt in 1 2 3 4 5 6 7 8; do
    if (cd "$src" && go build -o "$src/falcoctl.bin" -ldflags "-s -w \
        -X $MODULE/cmd/version.semVersion=${v#v} -X $MODULE/cmd/version.gitCommit=$commit \
        -X $MODULE/cmd/version.buildDate=$date" .) >"$CACHE_ROOT/$v.build.log" 2>&1; then
      break
    fi
    blocked=$(sed -n 's|^go: \([^ @]*@[^ :]*\): reading https://[^ ]*\.mod: 403 Forbidden.*|\1|p' "$CACHE_ROOT/$v.build.log" | head -n 1)
    if [ -z "$blocked" ] || [ "$attempt" = 8 ] || [[ " $stubs " == *" $blocked "* ]]; then
      status "$v" "fail go build (log: $CACHE_ROOT/$v.build.log): $(grep -v -e '^go: downloading' -e '^#' "$CACHE_ROOT/$v.build.log" | head -3 | tr '\n' ' ' | cut -c1-400)${stubs:+ (stubbed:$stubs)}"
      rm -rf "$src"
      return 0
    fi
    mkdir -p "$src/.stub/$attempt"
    echo "module ${blocked%@*}" >"$src/.stub/$attempt/go.mod"
    (cd "$src" && go mod edit -replace "$blocked=./.stub/$attempt")
    stubs="$stubs $blocked"
  done
  secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  mkdir -p "$out"
  printf '{ "version": "%s", "seconds": %s, "go": "%s", "sum": "%s", "goModSum": "%s", "builtAt": "%s", "emptyStubs": "%s" }\n' \
    "$v" "$secs" "$(go env GOVERSION)" "$sum" "$gomodsum" "$(date -u +%FT%TZ)" "${stubs# }" >"$out/build.json.tmp"
  mv "$src/falcoctl.bin" "$out/falcoctl.tmp"
  mv "$out/falcoctl.tmp" "$out/falcoctl"
  mv "$out/build.json.tmp" "$out/build.json"
  rm -rf "$src"
  status "$v" "ok $secs built${stubs:+ (empty stubs for modules the proxy refuses:$stubs)}"
}

while read -r v sum gomodsum _; do
  case $v in '' | '#'*) continue ;; esac
  # FALCOCTL_REAL_ONLY="v0.7.3 v0.13.0": only those (for development; CI builds them all).
  [ -z "${FALCOCTL_REAL_ONLY:-}" ] || [[ " $FALCOCTL_REAL_ONLY " == *" $v "* ]] || continue
  if [ "$sum" = unavailable ]; then
    status "$v" "unavailable ${gomodsum//_/ }"
    continue
  fi
  # One builder per version across parallel CI runs: the second waits, then finds the binary cached.
  exec 9>"$CACHE_ROOT/.$v.lock"
  flock 9
  build_one "$v" "$sum" "$gomodsum"
  exec 9>&-
done <"$HERE/versions.txt"

#!/usr/bin/env bash
# `npm run test:falcoctl` (called by .ci/run): builds the real falcoctl releases of versions.txt (cached per
# machine, see build.sh), then runs the per-release checks (*.real.ts) and prints `falcoctl: N passed, N failed`,
# which .ci/run counts. A release that could not be built fails each of its checks with the reason.
set -uo pipefail
cd "$(dirname "$0")/../.."
T0=$SECONDS
export FALCOCTL_REAL_STATUS=${FALCOCTL_REAL_STATUS:-$(mktemp -d)}
rm -f falcoctl-results.json
bash test/falcoctl-real/build.sh "$FALCOCTL_REAL_STATUS"
T1=$SECONDS
npx vitest run --config test/falcoctl-real/vitest.config.ts "$@"
rc=$?
# Releases the Go module proxy refuses are listed, with the proxy's answer, and counted as skipped (never as passed).
skipped=0
for f in "$FALCOCTL_REAL_STATUS"/*.status; do
  [ -e "$f" ] || continue
  if grep -q '^unavailable ' "$f"; then
    echo "falcoctl $(basename "$f" .status): NOT VERIFIED here: $(sed 's/^unavailable //' "$f")"
    skipped=$((skipped + 1))
  fi
done
node -e '
  const fs = require("node:fs");
  const skipped = Number(process.argv[1]);
  const tail = skipped ? `, ${skipped} skipped` : "";
  try {
    const r = JSON.parse(fs.readFileSync("falcoctl-results.json", "utf8"));
    console.log(`falcoctl: ${r.numPassedTests} passed, ${r.numFailedTests + (r.numTotalTests === 0 ? 1 : 0)} failed${tail}`);
  } catch { console.log("falcoctl: 0 passed, 1 failed (no results)"); }
' "$skipped"
echo "(falcoctl builds $((T1 - T0)) s, checks $((SECONDS - T1)) s)"
exit "$rc"

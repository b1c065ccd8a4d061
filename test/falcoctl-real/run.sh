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
node -e '
  const fs = require("node:fs");
  try {
    const r = JSON.parse(fs.readFileSync("falcoctl-results.json", "utf8"));
    console.log(`falcoctl: ${r.numPassedTests} passed, ${r.numFailedTests + (r.numTotalTests === 0 ? 1 : 0)} failed`);
  } catch { console.log("falcoctl: 0 passed, 1 failed (no results)"); }
'
echo "(falcoctl builds $((T1 - T0)) s, checks $((SECONDS - T1)) s)"
exit "$rc"

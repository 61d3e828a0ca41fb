#!/usr/bin/env bash
# The README's test command. Restores and builds (Release), runs every xunit test, then every experiment recipe
# in smoke mode under the repo host and upstream-style loading, the scripts and the F# ones (experiments/smoke.sh),
# and prints one closing line "N passed, N failed" (xunit tests + smoke recipes).
# Pass LMHARNESS_SKIP_SMOKE=1 to run the xunit tests only; extra arguments go to `dotnet test`.
set -uo pipefail
cd "$(dirname "$0")"
log=$(mktemp)
dotnet test LMHarness.sln -c Release --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
passed=$(grep -E '^\s+Passed:\s+[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -E '^\s+Failed:\s+[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
# The failed tests' names and first lines, kept to be printed again last: a CI log shows only its tail.
failures=$(grep -E -A6 '^\s+Failed [A-Za-z_]' "$log" | head -60)
if [ "${LMHARNESS_SKIP_SMOKE:-0}" != 1 ]; then
  bash experiments/smoke.sh 2>&1 | tee "$log"
  src=${PIPESTATUS[0]}
  smoke_ok=$(grep -cE '^    .+ \[[a-z]+\]: [0-9]+ s$' "$log")
  smoke_failed=$(grep -oE '^FAIL \[[^]]+\]' "$log" | sort -u | wc -l)
  passed=$((passed + smoke_ok - smoke_failed))
  failed=$((failed + smoke_failed))
  [ "$src" -eq 0 ] || { rc=1; [ "$smoke_failed" -gt 0 ] || failed=$((failed + 1)); }
fi
rm -f "$log"
[ -z "$failures" ] || printf 'xunit failures:\n%s\n' "$failures"
echo "${passed} passed, ${failed} failed"
exit "$rc"

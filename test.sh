#!/usr/bin/env bash
# The README's test command. Restores and builds (Release), runs every xunit test, then every experiment recipe
# in smoke mode under the repo host and upstream-style loading, the scripts and the F# ones (experiments/smoke.sh),
# and prints one closing line "N passed, N failed" (xunit tests + smoke recipes).
# Installs Debian's jupyter-nbconvert for the notebook tests when it is missing.
# Pass LMHARNESS_SKIP_SMOKE=1 to run the xunit tests only; extra arguments go to `dotnet test`.
set -uo pipefail
cd "$(dirname "$0")"
# The notebook tests run notebooks/*.ipynb through Jupyter's nbconvert in the real .NET Interactive kernel
# (notebooks/execute.sh): Debian's nbconvert is installed when missing (root, or sudo).
if ! command -v jupyter-nbconvert >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian's jupyter-nbconvert for the notebook tests"
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq jupyter-nbconvert python3-nbclient >/dev/null; } ||
    echo "could not install jupyter-nbconvert: the notebook tests will fail; install it (apt-get install jupyter-nbconvert python3-nbclient)" >&2
fi
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

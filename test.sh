#!/usr/bin/env bash
# The test command from the README: restores, builds (Release) and runs every test.
set -euo pipefail
cd "$(dirname "$0")"
dotnet test LMHarness.sln -c Release --logger "console;verbosity=normal" "$@"

#!/usr/bin/env bash
# notebooks/execute.sh [--smoke] [--no-build] [--out DIR] [notebook.ipynb ...]
#
# Executes the notebooks (default: every notebooks/*.ipynb) in the real .NET Interactive kernel, as Jupyter does:
# Jupyter's nbconvert starts the kernel of the Microsoft.dotnet-interactive tool pinned in .config/dotnet-tools.json
# (the tool VS Code's Polyglot Notebooks and Jupyter run), with kernel specs written by that tool's own
# `jupyter install` into a temporary JUPYTER_PATH (nothing of the user's Jupyter set-up is read or changed).
# Every code cell of an executed notebook is stamped with the SHA-256 of the source it ran
# (metadata.lmharness.source_sha256); tests/LMHarness.Notebook.Tests compares it with the current source.
#
#   (no option)  full-size runs; the executed notebooks replace the committed ones, only if no cell failed
#   --smoke      LMHARNESS_SMOKE=1: a few steps per run (CI)
#   --out DIR    write the executed notebooks to DIR instead (failed cells included), and exit 1 if a cell failed
#   --no-build   do not build the assemblies first (dotnet build core/LMHarness.Lab -c Release)
#
# Needs Jupyter's nbconvert (Debian: apt-get install jupyter-nbconvert; .ci/run installs it). Runs go to a temporary
# folder unless LMHARNESS_RUNS is set.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_INTERACTIVE_CLI_TELEMETRY_OPTOUT=1
smoke=0 build=1 out="" notebooks=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --no-build) build=0 ;;
    --out) [ $# -ge 2 ] || { echo "execute.sh: --out needs a folder" >&2; exit 2; }; out="$2"; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    -*) echo "execute.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) [ -f "$1" ] || { echo "execute.sh: no notebook $1" >&2; exit 2; }; notebooks+=("$(cd "$(dirname "$1")" && pwd)/$(basename "$1")") ;;
  esac
  shift
done
[ ${#notebooks[@]} -gt 0 ] || notebooks=("$root"/notebooks/*.ipynb)
command -v jupyter-nbconvert >/dev/null || {
  echo "execute.sh: Jupyter's nbconvert is not installed (Debian: sudo apt-get install jupyter-nbconvert)" >&2; exit 2; }

if [ "$build" = 1 ]; then dotnet build core/LMHarness.Lab -c Release --nologo -v q >&2; fi
[ -f core/LMHarness.Lab/bin/Release/net10.0/linux-x64/LMHarness.Lab.dll ] || {
  echo "execute.sh: build the assemblies first: dotnet build core/LMHarness.Lab -c Release" >&2; exit 2; }
work="$(mktemp -d /tmp/lmh-notebooks-XXXXXX)"
trap 'rm -rf "$work"' EXIT
# The pinned kernel, restored alone: `dotnet tool restore` of the whole manifest fails (restoring nothing) while the
# script launcher it also lists is not packed yet (./lmh packs it on first use).
if ! dotnet dotnet-interactive --version >/dev/null 2>&1; then
  python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); m["tools"] = {"microsoft.dotnet-interactive": m["tools"]["microsoft.dotnet-interactive"]}; json.dump(m, open(sys.argv[2], "w"))' \
    .config/dotnet-tools.json "$work/dotnet-tools.json"
  dotnet tool restore --tool-manifest "$work/dotnet-tools.json" >&2
  dotnet dotnet-interactive --version >/dev/null || {
    echo "execute.sh: the kernel did not restore (microsoft.dotnet-interactive in .config/dotnet-tools.json)" >&2; exit 1; }
fi
export JUPYTER_PATH="$work/jupyter" JUPYTER_RUNTIME_DIR="$work/runtime" JUPYTER_CONFIG_DIR="$work/config"
mkdir -p "$JUPYTER_PATH/kernels"
dotnet dotnet-interactive jupyter install --path "$JUPYTER_PATH/kernels" >/dev/null
export LMHARNESS_RUNS="${LMHARNESS_RUNS:-$work/runs}"
if [ "$smoke" = 1 ]; then export LMHARNESS_SMOKE=1; else unset LMHARNESS_SMOKE; fi
[ -z "$out" ] || mkdir -p "$out"

failed=0
for nb in "${notebooks[@]}"; do
  name="$(basename "$nb")"
  start=$SECONDS
  # The kernel starts in the notebook's folder, as in Jupyter and VS Code; --allow-errors keeps every cell's outcome.
  jupyter nbconvert --to notebook --execute --allow-errors --ExecutePreprocessor.timeout=3600 \
    --ExecutePreprocessor.record_timing=False --output-dir "$work/executed" "$nb" >"$work/nbconvert.log" 2>&1 \
    || { cat "$work/nbconvert.log" >&2; echo "execute.sh: nbconvert failed on $name" >&2; exit 1; }
  # Stamp each code cell with the SHA-256 of its source; list failed cells.
  if python3 - "$work/executed/$name" <<'EOF'
import hashlib, json, sys
path = sys.argv[1]
nb = json.load(open(path, encoding="utf-8"))
errors = []
for i, cell in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    cell.setdefault("metadata", {}).setdefault("lmharness", {})["source_sha256"] = hashlib.sha256(source.encode("utf-8")).hexdigest()
    errors += [f"code cell {i}: {o['ename']}: {o['evalue']}" for o in cell.get("outputs", []) if o["output_type"] == "error"]
with open(path, "w", encoding="utf-8") as f:
    json.dump(nb, f, indent=1, ensure_ascii=False)
    f.write("\n")
print("\n".join(errors), file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
  then
    status=ok
    [ -n "$out" ] || cp "$work/executed/$name" "$nb"
  else
    status=FAILED failed=1
  fi
  [ -z "$out" ] || cp "$work/executed/$name" "$out/$name"
  echo "$name: $status, $((SECONDS - start)) s" >&2
done
exit "$failed"

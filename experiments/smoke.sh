#!/usr/bin/env bash
# CI smoke test of the scripting environment: every recipe in experiments/ in smoke mode (a few steps, one seed)
# through the same `./lmh` -> `dotnet script` path users take, plus the F# recipe through `dotnet fsi`, then checks
# what they left: run folders with metrics.csv of the right columns, comparison.csv/comparison.statistics.csv/comparison.md,
# PNGs of the fixed size, report.html with the PNGs embedded.
# Usage: experiments/smoke.sh [recipe.csx ...]      (default: all). Runs go to a temp folder (LMHARNESS_RUNS).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export LMHARNESS_SMOKE=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export LMHARNESS_RUNS="${LMHARNESS_RUNS:-$(mktemp -d /tmp/lmh-smoke-XXXXXX)}"
mkdir -p "$LMHARNESS_RUNS"
recipes=("$@")
[ ${#recipes[@]} -gt 0 ] || recipes=(experiments/*.csx)
metrics_header="step,tokens,train_loss,val_loss,train_eval_loss,val_bpb,lr,grad_norm,tokens_per_s,mfu,elapsed_s,train_s,eval_s,rss_mb,gpu_mb"
comparison_header="variant,seed,final_val_loss,best_val_loss,final_val_bpb,tokens,wall_s,train_s,eval_s,tokens_per_s,params,peak_rss_mb,tokenizer,folder"
statistics_header="variant,metric,n,mean,std,ci_low,ci_high,diff_vs_baseline,diff_ci_low,diff_ci_high,welch_df,welch_p,seeds_to_resolve"
fail=0
check() { if ! eval "$1"; then echo "FAIL [$name]: $2" >&2; fail=1; fi; }
png_size() { python3 -c 'import struct,sys; b=open(sys.argv[1],"rb").read(24); assert b[:8]==b"\x89PNG\r\n\x1a\n"; print("%dx%d"%struct.unpack(">II",b[16:24]))' "$1"; }

verify() { # $1 = experiment name
  local dir="$LMHARNESS_RUNS/smoke/$1" n=0
  check "[ -d '$dir' ]" "no folder $dir"
  for m in "$dir"/*/seed*/metrics.csv; do
    n=$((n+1))
    check "[ \"\$(head -1 '$m')\" = '$metrics_header' ]" "$m header is '$(head -1 "$m")'"
    check "! grep -q \$'\\r' '$m'" "$m has CR line ends"
    check "[ \$(wc -l < '$m') -ge 2 ]" "$m has no rows"
  done
  check "[ $n -ge 1 ]" "no run folders with metrics.csv under $dir"
  check "[ \"\$(head -1 '$dir/comparison.csv')\" = '$comparison_header' ]" "comparison.csv header"
  if [ -f "$dir/lr_sweep.csv" ]; then # a sweep compares only each variant's runs at its best rate
    local best; best=$(awk -F, 'NR > 1 && $10 == "true" { s += $3 } END { print s + 0 }' "$dir/lr_sweep.csv")
    check "[ $best -ge 1 ] && [ \$(wc -l < '$dir/comparison.csv') -eq $((best+1)) ]" "comparison.csv should have the $best runs at the best rates"
    check "[ \"\$(png_size '$dir/lr_sweep.png')\" = 1200x750 ]" "$dir/lr_sweep.png missing or not 1200x750"
  else
    check "[ \$(wc -l < '$dir/comparison.csv') -eq $((n+1)) ]" "comparison.csv should have $n rows"
  fi
  check "grep -q '^| variant | seeds |' '$dir/comparison.md'" "comparison.md has no table"
  check "grep -q '^\*\*Headline:\*\* ' '$dir/comparison.md'" "comparison.md has no headline"
  check "[ \"\$(head -1 '$dir/comparison.statistics.csv')\" = '$statistics_header' ]" "comparison.statistics.csv header"
  check "[ \$(grep -c 'src=\"data:image/png;base64,' '$dir/report.html') -ge 5 ]" "report.html should embed the PNGs"
  for p in final_by_variant loss_vs_tokens loss_vs_time lr_schedule throughput; do
    check "[ \"\$(png_size '$dir/$p.png')\" = 1200x750 ]" "$dir/$p.png missing or not 1200x750"
  done
}

verify_extra() { # what one recipe writes beyond the comparison
  local dir="$LMHARNESS_RUNS/smoke/$1" log="$LMHARNESS_RUNS/$1.log"
  if [ "$1" = speedrun_cpu ]; then
    check "[ \"\$(tail -1 '$log')\" = 'speedup vs nanoGPT: n/a (smoke)' ]" "last line is '$(tail -1 "$log")', not the speedup line"
    check "grep -q '^| speedrun | ' '$dir/time_to_target.md'" "time_to_target.md has no speedrun row"
    check "[ \"\$(png_size '$dir/val_vs_train_time.png')\" = 1200x750 ]" "$dir/val_vs_train_time.png missing or not 1200x750"
  fi
}

start=$SECONDS
# Build the script host once through the same path (./lmh -> dotnet script -> launcher -> dotnet build), then let
# the recipes skip the launcher's incremental build: nothing changes between them.
./lmh --help > "$LMHARNESS_RUNS/build.log" 2>&1 || { echo "FAIL: building the script host; log:" >&2; tail -30 "$LMHARNESS_RUNS/build.log" >&2; exit 1; }
export LMHARNESS_SCRIPT_NO_BUILD=1
for r in "${recipes[@]}"; do
  name="$(basename "$r" .csx)"; t0=$SECONDS
  echo "=== smoke: $r"
  if ./lmh "$r" > "$LMHARNESS_RUNS/$name.log" 2>&1; then verify "$name"; verify_extra "$name"; else echo "FAIL [$name]: exited non-zero; log:" >&2; tail -20 "$LMHARNESS_RUNS/$name.log" >&2; fail=1; fi
  echo "    $name: $((SECONDS-t0)) s"
done
if [ $# -eq 0 ]; then
  name=fsharp; t0=$SECONDS
  echo "=== smoke: experiments/gqa_vs_mha.fsx (dotnet fsi)"
  if dotnet fsi experiments/gqa_vs_mha.fsx > "$LMHARNESS_RUNS/fsharp.log" 2>&1; then verify gqa_vs_mha_fsharp; else echo "FAIL [fsharp]: log:" >&2; tail -20 "$LMHARNESS_RUNS/fsharp.log" >&2; fail=1; fi
  echo "    fsharp: $((SECONDS-t0)) s"
fi
if [ $# -eq 0 ]; then
  # The GPU smoke script's CPU path: everything a GPU user runs except the CUDA build (scripts/gpu_smoke.sh).
  name=gpu_smoke_cpu; t0=$SECONDS
  echo "=== smoke: scripts/gpu_smoke.sh --device cpu"
  if bash scripts/gpu_smoke.sh --device cpu --steps 4 --work "$LMHARNESS_RUNS/gpu_smoke" > "$LMHARNESS_RUNS/gpu_smoke.log" 2>&1 \
     && grep -q '^GPU SMOKE OK$' "$LMHARNESS_RUNS/gpu_smoke.log"; then :; else echo "FAIL [$name]: log:" >&2; tail -20 "$LMHARNESS_RUNS/gpu_smoke.log" >&2; fail=1; fi
  echo "    $name: $((SECONDS-t0)) s"
fi
echo "smoke outputs in $LMHARNESS_RUNS ($((SECONDS-start)) s)"
[ $fail -eq 0 ] && echo "SMOKE OK" || { echo "SMOKE FAILED" >&2; exit 1; }

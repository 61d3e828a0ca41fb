#!/usr/bin/env bash
# One-command GPU check for a CUDA machine: restores and builds with the CUDA backend (TorchSharp-cuda-linux), trains
# a few bf16 steps with dropout and activation recomputation on the GPU and the same steps on the CPU, checks that the
# losses agree within a tolerance, and reports tokens/s, MFU and GPU memory (from the driver). Exit code 0 = OK.
#   scripts/gpu_smoke.sh                      # cuda: build with -p:TorchBackend=cuda, run on cuda
#   scripts/gpu_smoke.sh --device cuda:1 --steps 50 --tolerance 0.03
#   scripts/gpu_smoke.sh --device cpu         # everything but the CUDA build, on any machine (CI runs this)
# Extra options go to the bench (bench/LMHarness.Bench/GpuSmokeBench.cs): --tokens FILE, --work DIR.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
device=cuda
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[$i]}" = --device ] && [ $((i + 1)) -lt ${#args[@]} ]; then device="${args[$((i + 1))]}"; fi
done
[ "$device" = cpu ] || [ "${device%%:*}" = cuda ] || { echo "gpu_smoke.sh: --device $device: use cuda, cuda:N or cpu" >&2; exit 2; }
[ "$device" = cpu ] && backend=cpu || backend=cuda
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

log=$(mktemp)
echo "=== building bench/LMHarness.Bench with -p:TorchBackend=$backend"
if ! dotnet build bench/LMHarness.Bench -c Release -p:TorchBackend="$backend" > "$log" 2>&1; then
  if grep -q NU1101 "$log"; then
    echo "gpu_smoke.sh: the package registry does not serve TorchSharp-cuda-linux (NU1101); this machine cannot build the CUDA backend." >&2
  fi
  tail -30 "$log" >&2
  exit 1
fi
rm -f "$log"
if [ "$backend" = cuda ]; then
  # A CUDA build on a machine whose libtorch sees no GPU would silently train on the CPU: refuse instead.
  command -v nvidia-smi > /dev/null && nvidia-smi -L || { echo "gpu_smoke.sh: no nvidia-smi: is the NVIDIA driver installed?" >&2; exit 1; }
fi
echo "=== gpu-smoke ${args[*]:-}"
dotnet bench/LMHarness.Bench/bin/Release/net10.0/linux-x64/LMHarness.Bench.dll gpu-smoke "${args[@]}"

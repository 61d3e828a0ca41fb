using System.Globalization;
using LMHarness.Experiments;

namespace LMHarness.Bench;

/// <summary>
/// The GPU smoke check (<see cref="GpuSmoke"/>): a few bf16 steps with dropout and activation recomputation on the
/// device and on the CPU, loss parity, tokens/s, MFU and GPU memory. scripts/gpu_smoke.sh builds and runs it.
/// Usage: gpu-smoke [--device cuda|cuda:N|cpu] [--steps N] [--tolerance 0.03] [--tokens FILE] [--work DIR]
/// Exit code 1 when the losses leave the tolerance.
/// </summary>
public sealed class GpuSmokeBench : IBench
{
    public string Name => "gpu-smoke";
    public string Description => "bf16 + dropout + recomputation on the GPU vs the CPU: loss parity, tokens/s, MFU, GPU memory";

    public void Run(string[] args)
    {
        string Opt(string name, string fallback)
        {
            var i = Array.LastIndexOf(args, "--" + name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }
        var work = Opt("work", Path.Combine(Path.GetTempPath(), "lmh-gpu-smoke-" + Environment.ProcessId));
        var report = GpuSmoke.Run(new GpuSmokeOptions
        {
            Device = Opt("device", "cuda"),
            Steps = int.Parse(Opt("steps", "30"), CultureInfo.InvariantCulture),
            Tolerance = double.Parse(Opt("tolerance", "0.03"), CultureInfo.InvariantCulture),
            TokenFile = Opt("tokens", "") is { Length: > 0 } t ? t : null,
            WorkDir = work,
        });
        Console.WriteLine(report);
        Console.WriteLine($"runs in {work}");
        if (!report.Passed) Environment.Exit(1);
    }
}

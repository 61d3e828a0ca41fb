using System.Collections.Concurrent;
using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Training;

/// <summary>
/// The FLOP/s that model FLOPs utilisation (MFU, Chowdhery et al. 2022, PaLM, appendix B) divides by: measured once
/// per process for each device and dtype a run uses, with square matmuls of size n in that dtype, best of a few
/// timed repeats (the device synchronised around each), so a bf16 run is held to a bf16 peak. n = 2048 because
/// smaller matmuls stay well below a CPU's peak (here, 2 cores: 83 GFLOP/s at 512, 113 at 1024, 140 at 2048 in fp32),
/// which made small models report MFU above 100 %. A datasheet figure can be given instead (training peak_flops).
/// </summary>
public static class PeakFlops
{
    static readonly ConcurrentDictionary<(string Device, ScalarType Dtype), double> Measured = new();

    /// <summary>The measured peak of <paramref name="device"/> in <paramref name="dtype"/> (measured at the first call).</summary>
    public static double For(Device device, ScalarType dtype) =>
        Measured.GetOrAdd((device.ToString(), dtype), _ => Measure(device, dtype, 2048, 3));

    /// <summary>Times <paramref name="repeats"/> products of two n x n matrices and returns 2 n³ / best seconds.</summary>
    public static double Measure(Device device, ScalarType dtype, int n, int repeats)
    {
        using var scope = torch.NewDisposeScope();
        // Deterministic operands: drawing random ones would move torch's global generator and break exact resume.
        var a = torch.linspace(-1, 1, n * n, device: device).reshape(n, n).to(dtype);
        var b = a.t().contiguous();
        var c = a.matmul(b); // warm-up: thread pool, kernels, allocator
        Devices.Synchronize(device);
        var best = double.MaxValue;
        for (var i = 0; i < repeats; i++)
        {
            var sw = Stopwatch.StartNew();
            c = a.matmul(b);
            Devices.Synchronize(device);
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        GC.KeepAlive(c);
        return 2.0 * n * n * n / best;
    }
}

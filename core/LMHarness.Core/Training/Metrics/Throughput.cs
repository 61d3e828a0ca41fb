using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Training.Metrics;

/// <summary>
/// Model FLOPs utilisation (Chowdhery et al. 2022, PaLM, appendix B): training costs 6N + 12 L T d FLOPs per
/// token (N non-embedding-inclusive parameters, L layers, T context, d width; the second term is attention),
/// and MFU = tokens/s x FLOPs/token / peak FLOP/s. Also the process's resident memory.
/// </summary>
public static class Throughput
{
    public static double FlopsPerToken(long parameters, int layers, int context, int dModel) =>
        6.0 * parameters + 12.0 * layers * context * dModel;

    /// <summary>
    /// Measures achievable FLOP/s on this device with a square fp32 (or bf16) matmul of size n, best of a few
    /// repeats: an honest "peak" for a CPU whose datasheet figure is not at hand. n = 2048 because smaller
    /// matmuls stay well below the machine's peak (here, 2 cores idle: 83 GFLOP/s at 512, 113 at 1024, 140 at 2048),
    /// which made small models report MFU above 100 %.
    /// </summary>
    public static double MeasurePeakFlops(Device device, ScalarType dtype, int n = 2048, int repeats = 3)
    {
        using var scope = torch.NewDisposeScope();
        // Deterministic operands: drawing random ones would move torch's global RNG and break exact resume.
        var a = torch.linspace(-1, 1, n * n, device: device).reshape(n, n).to(dtype);
        var b = a.t().contiguous();
        a.matmul(b).sum().item<float>(); // warm-up (thread pool, kernels)
        var best = double.MaxValue;
        for (var i = 0; i < repeats; i++)
        {
            var sw = Stopwatch.StartNew();
            a.matmul(b).sum().to(ScalarType.Float32).item<float>();
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return 2.0 * n * n * n / best;
    }

    /// <summary>Resident set size of this process in MB (from /proc on Linux, the working set elsewhere).</summary>
    public static double RssMb()
    {
        try
        {
            // /proc/self/statm: size resident shared ... in pages; the cheapest exact read on Linux.
            var parts = File.ReadAllText("/proc/self/statm").Split(' ');
            return long.Parse(parts[1]) * Environment.SystemPageSize / (1024.0 * 1024.0);
        }
        catch (IOException) { return Environment.WorkingSet / (1024.0 * 1024.0); }
        catch (UnauthorizedAccessException) { return Environment.WorkingSet / (1024.0 * 1024.0); }
    }
}

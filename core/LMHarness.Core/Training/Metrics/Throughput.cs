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

    /// <summary>The peak FLOP/s MFU divides by for <paramref name="dtype"/> matmuls on <paramref name="device"/> (see <see cref="PeakFlops.For"/>).</summary>
    public static double MeasurePeakFlops(Device device, ScalarType dtype) => PeakFlops.For(device, dtype).FlopsPerSecond;

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

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Training;

/// <summary>A device's peak FLOP/s for a dtype and where the figure comes from (a datasheet row or a measurement).</summary>
public sealed record PeakFlopsEstimate(double FlopsPerSecond, string Source);

/// <summary>
/// The denominator of MFU (Chowdhery et al. 2022, PaLM, appendix B): the device's dense peak FLOP/s for the dtype the
/// matmuls run in. On an NVIDIA GPU the datasheet's dense (no 2:4 sparsity) tensor-core figure, looked up by the name
/// the driver reports (<see cref="GpuInfo"/>); fp32 training counts at the TF32 peak when TF32 matmuls are on, as
/// they are after <see cref="Devices.EnableTf32"/>. Elsewhere (a CPU, an unlisted GPU) a measured peak: a
/// square matmul in that dtype, repeated until it has run long enough to time (on a GPU, between two
/// synchronizations, since kernels run asynchronously), best of three.
/// </summary>
public static class PeakFlops
{
    const double T = 1e12;

    /// <summary>Dense peaks in FLOP/s (bf16/fp16 tensor cores with fp32 accumulation, TF32, plain fp32), from NVIDIA's datasheets.</summary>
    static readonly (Regex Name, string Label, double Bf16, double Tf32, double Fp32)[] Datasheet =
    [
        // Hopper. SXM (and GH200) 989 / 495 / 67; PCIe 756 / 378 / 51; NVL 835 / 418 / 60 (H100 NVL and H200 NVL).
        (new(@"\bH(100|200) NVL\b"), "H100/H200 NVL", 835 * T, 418 * T, 60 * T),
        (new(@"\bH100 PCIe\b", RegexOptions.IgnoreCase), "H100 PCIe", 756 * T, 378 * T, 51 * T),
        (new(@"\b(H100|H200|GH200)\b"), "H100/H200 SXM", 989 * T, 495 * T, 67 * T),
        // Ampere and Ada data-centre parts.
        (new(@"\bA100\b"), "A100", 312 * T, 156 * T, 19.5 * T),
        (new(@"\bA10\b"), "A10", 125 * T, 62.5 * T, 31.2 * T),
        (new(@"\bL40S\b"), "L40S", 362 * T, 183 * T, 91.6 * T),
        (new(@"\bL4\b"), "L4", 121 * T, 60 * T, 30.3 * T),
        // GeForce: tensor cores at half rate with fp32 accumulation.
        (new(@"RTX 4090\b"), "GeForce RTX 4090", 165 * T, 82.6 * T, 82.6 * T),
        (new(@"RTX 3090\b"), "GeForce RTX 3090", 71 * T, 35.6 * T, 35.6 * T),
    ];

    /// <summary>
    /// The datasheet peak for a GPU named <paramref name="deviceName"/> (as the driver reports it, e.g.
    /// "NVIDIA H100 80GB HBM3") running matmuls in <paramref name="dtype"/>; fp32 counts at the TF32 peak when
    /// <paramref name="tf32"/>. Null when the GPU or dtype is not in the table.
    /// </summary>
    public static PeakFlopsEstimate? FromDatasheet(string deviceName, ScalarType dtype, bool tf32)
    {
        foreach (var (name, label, bf16, tf32Peak, fp32) in Datasheet)
        {
            if (!name.IsMatch(deviceName)) continue;
            return dtype switch
            {
                ScalarType.BFloat16 or ScalarType.Float16 => new(bf16, $"datasheet: {label} dense {Describe(dtype)}"),
                ScalarType.Float32 when tf32 => new(tf32Peak, $"datasheet: {label} dense TF32"),
                ScalarType.Float32 => new(fp32, $"datasheet: {label} fp32"),
                _ => null,
            };
        }
        return null;
    }

    static readonly ConcurrentDictionary<(string Device, ScalarType Dtype, bool Tf32), PeakFlopsEstimate> Known = new();

    /// <summary>The peak FLOP/s of <paramref name="device"/> in <paramref name="dtype"/> (see <see cref="Estimate"/>).</summary>
    public static double For(Device device, ScalarType dtype) => Estimate(device, dtype).FlopsPerSecond;

    /// <summary>
    /// The peak for <paramref name="device"/> in <paramref name="dtype"/>, once per process for each device, dtype and
    /// TF32 setting: the datasheet row of a known NVIDIA GPU, else <see cref="Measure"/>. Measuring draws nothing from
    /// torch's random generators.
    /// </summary>
    public static PeakFlopsEstimate Estimate(Device device, ScalarType dtype) =>
        Known.GetOrAdd(Key(device, dtype), _ => Find(device, dtype));

    /// <summary>
    /// Reports that a run on <paramref name="device"/> in <paramref name="dtype"/> achieved <paramref name="flopsPerSecond"/>
    /// and returns the peak to divide by from now on. A measured peak is only what the probe got: taken while other
    /// processes held the cores it reads low, and MFU came out above 100 %. The machine evidently does at least what a
    /// run achieved, so a measured peak below it is raised to it (for the rest of the process). Datasheet figures stay.
    /// </summary>
    public static double Achieved(Device device, ScalarType dtype, double flopsPerSecond)
    {
        var key = Key(device, dtype);
        var estimate = Known.AddOrUpdate(key, _ => Find(device, dtype), (_, known) =>
            known.Source.StartsWith("measured", StringComparison.Ordinal) && flopsPerSecond > known.FlopsPerSecond
                ? new(flopsPerSecond, known.Source + ", raised to a run's achieved rate")
                : known);
        return estimate.FlopsPerSecond;
    }

    static (string, ScalarType, bool) Key(Device device, ScalarType dtype) =>
        (device.ToString(), dtype, device.type == DeviceType.CUDA && torch.backends.cuda.matmul.allow_tf32);

    static PeakFlopsEstimate Find(Device device, ScalarType dtype)
    {
        if (device.type == DeviceType.CUDA)
        {
            var name = GpuInfo.Default.Name(device);
            var tf32 = torch.backends.cuda.matmul.allow_tf32;
            if (name is not null && FromDatasheet(name, dtype, tf32) is { } known) return known;
            var n = dtype == ScalarType.Float32 && !tf32 ? 4096 : 8192;
            return new(Measure(device, dtype, n), $"measured: {n}^3 {Describe(dtype)} matmul on {name ?? device.ToString()} (not in the datasheet table)");
        }
        return new(Measure(device, dtype), $"measured: 2048^3 {Describe(dtype)} matmul on the {device.type}");
    }

    /// <summary>
    /// Achieved FLOP/s of an n x n by n x n matmul in <paramref name="dtype"/> on <paramref name="device"/>: after a
    /// warm-up, each timing repeats the matmul until at least <paramref name="minSeconds"/> have passed (on CUDA,
    /// synchronizing before starting and before stopping the clock, so queued kernels count), best of
    /// <paramref name="repeats"/>. n = 2048 on a CPU because smaller matmuls stay well below the machine's peak (here,
    /// 2 cores: 83 GFLOP/s at 512, 113 at 1024, 140 at 2048), which made small models report MFU above 100 %.
    /// </summary>
    public static double Measure(Device device, ScalarType dtype, int n = 2048, int repeats = 3, double minSeconds = 0.05)
    {
        using var scope = torch.NewDisposeScope();
        // Deterministic operands: drawing random ones would move torch's global RNG and break exact resume.
        var a = torch.linspace(-1, 1, (long)n * n, device: device).reshape(n, n).to(dtype);
        var b = a.t().contiguous();
        void Sync() => Devices.Synchronize(device);
        // Each product is freed at once: the allocator hands the same block back (a scope would hold every one).
        using (a.matmul(b)) { } // warm-up: thread pool, cuBLAS handle and kernel choice
        Sync();
        var best = double.MaxValue;
        for (var r = 0; r < repeats; r++)
        {
            var calls = 0;
            var sw = Stopwatch.StartNew();
            do
            {
                using (a.matmul(b)) { }
                calls++;
                if (device.type == DeviceType.CUDA && calls % 8 != 0) continue; // queue a few before waiting
                Sync();
            } while (sw.Elapsed.TotalSeconds < minSeconds);
            Sync();
            best = Math.Min(best, sw.Elapsed.TotalSeconds / calls);
        }
        return 2.0 * n * n * (double)n / best;
    }

    static string Describe(ScalarType dtype) => dtype switch
    {
        ScalarType.BFloat16 => "bf16",
        ScalarType.Float16 => "fp16",
        ScalarType.Float32 => "fp32",
        _ => dtype.ToString(),
    };
}

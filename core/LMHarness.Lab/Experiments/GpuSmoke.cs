using System.Globalization;
using System.Text;
using LMHarness.Config;
using LMHarness.Corpora;
using LMHarness.Runs;
using LMHarness.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Experiments;

/// <summary>What <see cref="GpuSmoke.Run"/> trains and how close the device run must stay to the CPU run.</summary>
public sealed record GpuSmokeOptions
{
    /// <summary>The device under test: cuda, cuda:N, or cpu (which checks the whole path except the CUDA build).</summary>
    public string Device { get; init; } = "cuda";
    public int Steps { get; init; } = 30;
    /// <summary>Largest relative difference allowed between the device's and the CPU's losses (first step, and mean of the last ten).</summary>
    public double Tolerance { get; init; } = 0.03;
    /// <summary>Token file to train on; null prepares TinyShakespeare characters.</summary>
    public string? TokenFile { get; init; }
    /// <summary>Folder for the two run folders (device/ and cpu/).</summary>
    public required string WorkDir { get; init; }
    /// <summary>The model; null is a small Llama-style model with dropout 0.1 and activation recomputation.</summary>
    public ModelConfig? Model { get; init; }
    /// <summary>Micro-batch and context of the runs.</summary>
    public int MicroBatch { get; init; } = 16;
    public int ContextLength { get; init; } = 128;
}

/// <summary>The outcome of <see cref="GpuSmoke.Run"/>; <see cref="Passed"/> when both runs stayed finite and within tolerance.</summary>
public sealed record GpuSmokeReport(
    string Device, string? GpuName, double FirstLossDevice, double FirstLossCpu, double TailLossDevice, double TailLossCpu,
    double TokensPerSecond, double Mfu, string PeakSource, GpuMemory? Memory, double Tolerance)
{
    public double FirstLossDifference => Math.Abs(FirstLossDevice - FirstLossCpu) / Math.Abs(FirstLossCpu);
    public double TailLossDifference => Math.Abs(TailLossDevice - TailLossCpu) / Math.Abs(TailLossCpu);
    public bool Passed => double.IsFinite(TailLossDevice) && double.IsFinite(TailLossCpu)
                          && FirstLossDifference <= Tolerance && TailLossDifference <= Tolerance;

    public override string ToString()
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(c, $"device          {Device}{(GpuName is null ? "" : $" ({GpuName})")}");
        sb.AppendLine(c, $"loss, step 1    device {FirstLossDevice:F4}  cpu {FirstLossCpu:F4}  difference {FirstLossDifference:P2} (tolerance {Tolerance:P0})");
        sb.AppendLine(c, $"loss, last 10   device {TailLossDevice:F4}  cpu {TailLossCpu:F4}  difference {TailLossDifference:P2} (tolerance {Tolerance:P0})");
        sb.AppendLine(c, $"tokens/s        {TokensPerSecond:N0}");
        sb.AppendLine(c, $"MFU             {Mfu:P1} (peak: {PeakSource})");
        sb.AppendLine(Memory is null
            ? "GPU memory      n/a (no NVIDIA driver, or not a CUDA device)"
            : string.Create(c, $"GPU memory      this process {Memory.ProcessMb?.ToString("N0", c) ?? "?"} MB; device {Memory.UsedMb:N0} of {Memory.TotalBytes / 1048576.0:N0} MB used"));
        sb.Append(Passed ? "GPU SMOKE OK" : "GPU SMOKE FAILED: the device's losses left the CPU's (or are not finite)");
        return sb.ToString();
    }
}

/// <summary>
/// A few training steps on a GPU checked against the same steps on the CPU: bf16 mixed precision, dropout and
/// activation recomputation on (the paths a GPU exercises that CPU tests cannot: CUDA dropout seeding, recompute
/// replay on the autograd thread, bf16 kernels), then tokens/s, MFU and the driver's memory figures. Both runs start
/// from the same weights (initialised on the CPU generator) and see the same batches; their dropout masks come from
/// different generators and bf16 rounds differently, so their losses agree only to a tolerance (default 3 %, an
/// estimate to confirm on a GPU). With <c>Device = "cpu"</c> both runs are CPU runs and agree exactly: that checks
/// everything but the CUDA build.
/// </summary>
public static class GpuSmoke
{
    /// <summary>The default model: a small Llama (RoPE, GQA, SwiGLU, RMSNorm) over 65 characters, with dropout and recomputation.</summary>
    public static ModelConfig DefaultModel => new ModelConfig
    {
        VocabSize = 65, ContextLength = 128, NLayer = 4, DModel = 256, NHead = 8, NKvHead = 4, FfnHidden = 688,
        AttentionKinds = [AttentionKind.Gqa], FeedForwardKinds = [FeedForwardKind.SwiGlu], Position = PositionKind.Rope,
        Norm = NormKind.RmsNorm, Bias = false, TieEmbeddings = true, Dropout = 0.1, RecomputeActivations = true,
    }.Validated();

    public static GpuSmokeReport Run(GpuSmokeOptions options)
    {
        var device = Devices.Resolve(options.Device);
        Devices.EnableTf32(device);
        var model = options.Model ?? DefaultModel;
        var tokens = options.TokenFile ?? Corpus.Prepared("tinyshakespeare", "char");
        var peak = PeakFlops.Estimate(device, ScalarType.BFloat16);
        TrainingConfig Training(string dev, double peakFlops) => new()
        {
            MaxSteps = options.Steps, LearningRate = 3e-3, MinLearningRate = 3e-4, WarmupSteps = Math.Max(1, options.Steps / 10),
            MicroBatch = options.MicroBatch, ContextLength = options.ContextLength, Dtype = TrainingDtype.Bf16, Seed = 1234,
            EvalInterval = options.Steps, EvalBatches = 2, LogInterval = 1, GradFlowInterval = 0, CheckpointInterval = 0,
            KeepCheckpoints = 1, Device = dev, PeakFlops = peakFlops,
        };
        var onDevice = Path.Combine(options.WorkDir, "device");
        var onCpu = Path.Combine(options.WorkDir, "cpu");
        foreach (var d in new[] { onDevice, onCpu }) if (Directory.Exists(d)) Directory.Delete(d, recursive: true);

        Trainer.Run(model, Training(device.ToString(), peak.FlopsPerSecond), tokens, onDevice);
        var memory = GpuInfo.Default.Memory(device); // after the run: the caching allocator still holds what it reserved
        Trainer.Run(model, Training("cpu", device.type == DeviceType.CPU ? peak.FlopsPerSecond : PeakFlops.For(CPU, ScalarType.BFloat16)), tokens, onCpu);

        var dev = new RunFolder(onDevice).ReadMetrics();
        var cpu = new RunFolder(onCpu).ReadMetrics();
        var timed = dev.Where(r => r.Step > 1).ToList(); // step 1 includes warm-up (kernel selection, allocator growth)
        return new GpuSmokeReport(
            device.ToString(), GpuInfo.Default.Name(device),
            dev.First(r => r.Step == 1).TrainLoss, cpu.First(r => r.Step == 1).TrainLoss,
            Tail(dev), Tail(cpu),
            timed.Count > 0 ? timed.Average(r => r.TokensPerS) : dev.Last().TokensPerS,
            timed.Count > 0 ? timed.Average(r => r.Mfu) : dev.Last().Mfu,
            peak.Source, memory, options.Tolerance);

        static double Tail(IReadOnlyList<MetricsRow> rows) => rows.Where(r => r.Step > 0).TakeLast(10).Average(r => r.TrainLoss);
    }
}

using System.Diagnostics;
using System.Runtime.InteropServices;
using LMHarness.Config;
using LMHarness.Corpora;
using LMHarness.Experiments;
using LMHarness.Model;
using LMHarness.Training;
using LMHarness.Training.Optimizers;
using static TorchSharp.torch;

namespace LMHarness.Bench;

/// <summary>
/// The fused linear cross-entropy (<see cref="FusedLinearCrossEntropy"/>, fused_loss on) against the logits path
/// (fused_loss off), side by side in one process: full training steps (the trainer's <see cref="TrainStep"/>: forward,
/// backward, clipping, AdamW) on TinyShakespeare, one model and optimizer shared by both variants, one step of each in
/// turn (A B A B ...) so the machine's load hits both alike. Per variant: tokens/s of its median and of its fastest
/// step (on a loaded box the fastest is the one least disturbed), and resident memory: the peak of its steps, of one
/// forward+backward alone and of that forward (VmHWM, reset after freeing what the other variant left), beside the
/// logits' share: B·T·V·4 bytes, and as much again for their gradient. The variants take turns on one model, so their
/// last losses are of different steps. The first three cases are the issue's; the last three are smaller logits, for
/// fused_loss auto's rule (it fuses d128-4x64, not d128-1x64 or char).
/// Usage: <c>fused-loss [steps per variant = 4] [cases = all] [threads]</c>; <c>fused-loss 1 d128</c> is the smoke check.
/// </summary>
public sealed class FusedLossBench : IBench
{
    public string Name => "fused-loss";
    public string Description => "fused linear cross-entropy vs the logits path: tokens/s and peak memory (GPT-2 vocabulary)";

    /// <summary>One model and batch; small ones take <paramref name="Repeat"/> times the steps (they take milliseconds).</summary>
    sealed record Case(string Name, ModelConfig Model, int MicroBatch, int Context, TrainingDtype Dtype, string Tokenizer = "gpt2", int Repeat = 1);

    static readonly ModelConfig D128 = Presets.Get("nanogpt-cpu") with { VocabSize = 50257 };

    static readonly Case[] Cases =
    [
        new("d128", D128, 12, 64, TrainingDtype.Fp32),
        new("gpt2-124M", Presets.Get("gpt2-124M"), 4, 512, TrainingDtype.Fp32),
        new("llama3-220M", Presets.Get("llama3-220M"), 2, 256, TrainingDtype.Bf16),
        new("d128-4x64", D128, 4, 64, TrainingDtype.Fp32, Repeat: 3),
        new("d128-1x64", D128, 1, 64, TrainingDtype.Fp32, Repeat: 10),
        new("char", Presets.Get("nanogpt-cpu"), 12, 64, TrainingDtype.Fp32, "char", Repeat: 10),
    ];

    public void Run(string[] args)
    {
        int steps = args.Length > 0 ? int.Parse(args[0]) : 4;
        var names = args.Length > 1 && args[1] != "all" ? args[1].Split(',') : Cases.Select(c => c.Name).ToArray();
        if (args.Length > 2) set_num_threads(int.Parse(args[2]));
        Console.WriteLine($"threads {get_num_threads()}, {Environment.ProcessorCount} cores, load average {LoadAverage()}; {steps} steps per variant, " +
                          $"alternating, after one warm-up step each; tiles of {FusedLinearCrossEntropy.Tiles.Bytes >> 20} MB of fp32 logits");
        foreach (var c in Cases.Where(c => names.Contains(c.Name))) Measure(c, steps * c.Repeat);
    }

    static string LoadAverage()
    {
        try { return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "?"; }
    }

    static void Measure(Case c, int steps)
    {
        var training = RunRecipes.NanoGptCpuTraining with
        {
            MicroBatch = c.MicroBatch, ContextLength = c.Context, Dtype = c.Dtype, WarmupSteps = 0, PeakFlops = 1e12,
        };
        using var data = TokenFileBatches.Open(Corpus.Prepared("tinyshakespeare", c.Tokenizer), training);
        manual_seed(1337);
        using var precision = PrecisionPolicy.Create(c.Dtype, () => new CausalLM(c.Model), CPU);
        using var optimizer = OptimizerFactory.Create(precision.Master, training);
        var variants = new[] { FusedLossMode.Off, FusedLossMode.On }
            .Select(mode => new Variant(mode, new TrainStep(precision, optimizer, data, training with { FusedLoss = mode }, CPU)))
            .ToArray();
        long logits = (long)c.MicroBatch * c.Context * c.Model.VocabSize * 4;
        using (var batch = zeros([c.MicroBatch, c.Context], ScalarType.Int64))
            Console.WriteLine($"\n{c.Name} ({c.Dtype.ToString().ToLowerInvariant()}, vocab {c.Model.VocabSize}, {c.MicroBatch} x {c.Context}): " +
                              $"logits {Mb(logits):F1} MB + their gradient {Mb(logits):F1} MB = {Mb(2 * logits):F1} MB; " +
                              $"auto takes the {(NextTokenLoss.Fused(FusedLossMode.Auto, precision.Compute, batch) ? "fused" : "logits")} path");
        foreach (var v in variants) v.Step(); // warm-up: optimizer state, allocator, kernels
        for (var r = 0; r < steps; r++)
            foreach (var v in variants) v.MeasuredStep();
        foreach (var v in variants) v.MeasureForwardBackward(precision.Compute, data);
        foreach (var v in variants)
            Console.WriteLine($"  {v.Name,-8} {training.TokensPerStep / v.Median,9:N0} tok/s median, {training.TokensPerStep / v.Fastest,9:N0} fastest " +
                              $"({training.TokensPerStep / v.MedianCpu,7:N0} per CPU-s)   peak MB above the start: step {v.RiseMb,5:N0} " +
                              $"(of {v.PeakMb:N0}), forward+backward {v.ForwardBackwardRiseMb,5:N0}, forward {v.ForwardRiseMb,5:N0}   last loss {v.Loss:F3}");
        var (plain, fused) = (variants[0], variants[1]);
        Console.WriteLine($"  fused/unfused tokens/s {plain.Median / fused.Median:F2}x median, {plain.Fastest / fused.Fastest:F2}x fastest, {plain.MedianCpu / fused.MedianCpu:F2}x CPU time; " +
                          $"peak lower by {plain.PeakMb - fused.PeakMb:N0} MB (step), {plain.ForwardBackwardRiseMb - fused.ForwardBackwardRiseMb:N0} MB (forward+backward) " +
                          $"against the logits' share {Mb(2 * logits):N0} MB");
        if (c.Repeat == 1) Console.WriteLine($"  step seconds: unfused {plain.Steps}; fused {fused.Steps}");
    }

    static double Mb(long bytes) => bytes / (1024.0 * 1024.0);

    /// <summary>One loss path: its step, the wall and CPU time of each measured step, and its highest peak.</summary>
    sealed class Variant(FusedLossMode mode, TrainStep step)
    {
        public string Name { get; } = mode == FusedLossMode.On ? "fused" : "unfused";
        /// <summary>The rise of one forward+backward (no optimizer step) above the resident memory before it.</summary>
        public double ForwardBackwardRiseMb { get; private set; }
        /// <summary>The rise of that forward (with the loss) alone.</summary>
        public double ForwardRiseMb { get; private set; }
        public double PeakMb { get; private set; }
        public double BaseMb { get; private set; }
        public double RiseMb { get; private set; }
        public double Loss { get; private set; }
        readonly List<double> _seconds = [], _cpuSeconds = [];
        long _taken;

        /// <summary>The measured steps' wall seconds, in order.</summary>
        public string Steps => string.Join(" ", _seconds.Select(s => s.ToString("F3")));

        public void Step()
        {
            var (loss, norm) = step.Run(1.0, ++_taken, null);
            using (loss) using (norm) Loss = loss.item<double>();
        }

        /// <summary>Forward and backward of one batch without the optimizer: where the loss's memory shows.</summary>
        public void MeasureForwardBackward(nn.Module<Tensor, Tensor> model, IBatchSource data)
        {
            var before = StartPeak();
            using (var scope = NewDisposeScope())
            {
                var (x, y) = data.NextTrain();
                var loss = NextTokenLoss.Mean(model, x, y, mode);
                ForwardRiseMb = ResidentMemory.PeakMegabytes() - before;
                loss.backward();
            }
            HandedGradients.Release();
            ForwardBackwardRiseMb = ResidentMemory.PeakMegabytes() - before;
        }

        /// <summary>
        /// Frees what the other variant left (the collector's garbage, glibc's free heap) so the peak that starts now
        /// is this variant's own; returns the resident MB it starts from.
        /// </summary>
        static double StartPeak()
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            TrimHeap();
            var before = ResidentMemory.Megabytes();
            ResidentMemory.ResetPeak();
            return before;
        }

        public void MeasuredStep()
        {
            var before = StartPeak();
            using var process = Process.GetCurrentProcess();
            var cpu = process.TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            Step();
            _seconds.Add(clock.Elapsed.TotalSeconds);
            process.Refresh();
            _cpuSeconds.Add((process.TotalProcessorTime - cpu).TotalSeconds);
            var peak = ResidentMemory.PeakMegabytes();
            if (peak > PeakMb) (PeakMb, BaseMb, RiseMb) = (peak, before, peak - before);
        }

        public double Median => MedianOf(_seconds);
        public double Fastest => _seconds.Min();
        public double MedianCpu => MedianOf(_cpuSeconds);

        static double MedianOf(List<double> xs)
        {
            var sorted = xs.Order().ToList();
            return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
        }
    }

    /// <summary>glibc's malloc_trim: returns the free heap to the kernel (no-op elsewhere).</summary>
    static void TrimHeap()
    {
        try { _ = malloc_trim(0); }
        catch (DllNotFoundException) { }
        catch (EntryPointNotFoundException) { }
    }

    [DllImport("libc")]
    static extern int malloc_trim(nuint pad);
}

using System.Diagnostics;
using LMHarness.Config;
using LMHarness.Corpora;
using LMHarness.Runs;
using LMHarness.Training;
using LMHarness.Training.Logging;
using TorchSharp;

namespace LMHarness.Bench;

/// <summary>
/// Memory that does not depend on the garbage collector: the GPT-2-vocabulary d128 model (nanogpt-cpu, a tied
/// 50,257 x 128 embedding, AdamW) trained through the real Trainer for 300 steps with the collector kept from running
/// (the bench runs itself again with DOTNET_GCgen0size=0x40000000: a 1 GB allocation budget before the first
/// collection, against ~0.1 MB of managed allocations a step), so nothing is freed that its code did not free itself.
/// Prints RSS, the live-tensor count and the collection count every 20
/// steps (every 10 in runs under 200 steps; step 0 is the untrained model's evaluation), then RSS at step 300 against
/// step 20 (the goal: within 10 %), the peak's growth over the same steps, and the run's peak (VmHWM; the peak column is
/// its value so far).
/// Before the fix RSS climbed ~20 MB a step here (TorchSharp's AdamW left native Scalars to the finalizer; they
/// pinned the C heap between the step's large buffers).
/// Usage: memory [steps=300] [preset=nanogpt-cpu] [optimizer=adamw] [dtype=fp32]
/// </summary>
public sealed class MemoryBench : IBench
{
    public string Name => "memory";
    public string Description => "RSS over 300 steps of the GPT-2-vocabulary d128 model with the garbage collector kept from running";

    sealed class Sampler(int every) : IRunLogger
    {
        public List<(long Step, double RssMb, double PeakMb, long Live, int Collections)> Rows { get; } = [];
        public void OnMetrics(MetricsRow row)
        {
            if (row.Step % every == 0)
                Rows.Add((row.Step, row.RssMb, ResidentMemory.PeakMegabytes(), torch.Tensor.TotalCount, GC.CollectionCount(0)));
        }
    }

    const string Gen0Size = "DOTNET_GCgen0size";

    public void Run(string[] args)
    {
        if (Environment.GetEnvironmentVariable(Gen0Size) is null)
        {
            // The budget is read when the runtime starts: run this bench in a child process that has it.
            var start = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
            start.ArgumentList.Add(Name);
            foreach (var a in args) start.ArgumentList.Add(a);
            start.Environment[Gen0Size] = "0x40000000";
            using var child = Process.Start(start)!;
            child.WaitForExit();
            if (child.ExitCode != 0) throw new InvalidOperationException($"the memory bench's child process exited with {child.ExitCode}");
            return;
        }
        var steps = args.Length > 0 ? int.Parse(args[0]) : 300;
        var preset = args.Length > 1 ? args[1] : "nanogpt-cpu";
        var optimizer = args.Length > 2 ? EnumNames.Parse<OptimizerKind>(args[2], "the optimizer argument") : OptimizerKind.AdamW;
        var dtype = args.Length > 3 ? EnumNames.Parse<TrainingDtype>(args[3], "the dtype argument") : TrainingDtype.Fp32;
        var every = steps >= 200 ? 20 : Math.Max(1, Math.Min(10, steps / 6));
        var tokens = Corpus.Prepared("tinyshakespeare", "gpt2");
        var model = Presets.Get(preset) with { VocabSize = 50257 };
        var training = Experiments.RunRecipes.NanoGptCpuTraining with
        {
            MaxSteps = steps, WarmupSteps = Math.Min(10, steps - 1), EvalInterval = steps, EvalBatches = 2, LogInterval = every,
            GradFlowInterval = 0, CheckpointInterval = 0, Optimizer = optimizer, Dtype = dtype, PeakFlops = 1e12,
        };
        var dir = Path.Combine(Path.GetTempPath(), $"lmh-memorybench-{Environment.ProcessId}");
        Console.WriteLine($"{preset} with the GPT-2 vocabulary ({model.VocabSize} x {model.DModel} tied embedding), {optimizer} {dtype}, " +
                          $"micro-batch {training.MicroBatch} x {training.ContextLength}, {steps} steps, threads {torch.get_num_threads()}");
        var sampler = new Sampler(every);
        var trainer = Trainer.For(model, training, tokens, dir);
        trainer.Progress = null;
        trainer.Loggers.Add(sampler);
        var collections = GC.CollectionCount(0);
        RunResult result;
        try { result = trainer.Train(); }
        finally { Directory.Delete(dir, recursive: true); }
        Console.WriteLine($"garbage collector: {Gen0Size}={Environment.GetEnvironmentVariable(Gen0Size)}, {GC.CollectionCount(0) - collections} collections during the run");
        Console.WriteLine(" step   rss MB  peak MB   live tensors   collections");
        foreach (var r in sampler.Rows) Console.WriteLine($"{r.Step,5} {r.RssMb,8:F0} {r.PeakMb,8:F0} {r.Live,14} {r.Collections - collections,13}");
        // Step 20 is past the warm-up and the allocator's first growth. RSS moves by up to one logits buffer from one
        // sample to the next (whether the C heap kept or gave back a freed one: 154 MB at 12 x 64 x 50,257 fp32), so a short
        // run also reports the peak's growth, which only a leak or new fragmentation raises.
        var first = sampler.Rows.First(r => r.Step >= Math.Min(20, steps / 2));
        var last = sampler.Rows[^1];
        var growth = last.RssMb / first.RssMb - 1;
        var peakGrowth = last.PeakMb / first.PeakMb - 1;
        Console.WriteLine($"RSS at step {first.Step}: {first.RssMb:F0} MB, at step {last.Step}: {last.RssMb:F0} MB ({growth:+0.0%;-0.0%}; goal within 10 %: " +
                          $"{(Math.Abs(growth) <= 0.10 ? "met" : "NOT met")}); peak {first.PeakMb:F0} -> {last.PeakMb:F0} MB (peak {peakGrowth:+0.0%;-0.0%}); " +
                          $"live tensors {first.Live} -> {last.Live}; peak RSS {result.PeakRssMb:F0} MB; {result.TokensPerSecond:N0} tok/s");
    }
}

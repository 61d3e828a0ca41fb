using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using LMHarness.Config;
using LMHarness.Corpora;
using LMHarness.Experiments;
using LMHarness.Model;
using LMHarness.Summary;
using LMHarness.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Bench;

/// <summary>
/// The memory plan against measurement, on the CPU:
/// (1) activations: what a forward keeps for backward, per block kind, as the resident memory it adds (the C heap
/// trimmed before and after, so freed blocks do not hide it) against <see cref="ActivationMemory"/> plus the logits and
/// their log-probabilities (8 B a logit); (2) the planned peak (<see cref="MemoryPlan"/>, the runtime measured at the
/// run's start) against the run's measured peak (VmHWM) at 4 sizes, each trained for a few steps in a fresh process:
/// nanogpt-cpu with the GPT-2 vocabulary (fp32, 12 x 64), gpt2-124M (fp32, 4 x 128), the same with its embedding and
/// blocks 0-5 frozen, llama3-220M (bf16, 2 x 256);
/// (3) a negative control: the same plans with one term dropped, to show which omissions the tolerance catches;
/// (4) allocator: the 4 sizes again with glibc told to map every block of 64 KB or more on its own
/// (MALLOC_MMAP_THRESHOLD_=65536), so freed memory goes back to the kernel at once and the resident peak is the live
/// tensors' peak: what is left between plan and measurement is then what the plan does not count.
/// Exits 1 when a size's plan is outside [0.75, 1.25] of its measured peak, an activation count is more than 3 % off,
/// or the negative control does not fail (the check has no teeth).
/// Usage: memory-plan [steps (3)] [sections: activations,peak,allocator (all)]
/// </summary>
public sealed class MemoryPlanBench : IBench
{
    public string Name => "memory-plan";
    public string Description => "memory plan vs measured: activations per block kind, planned vs measured peak at 4 sizes";

    const double PeakTolerance = 0.25, ActivationTolerance = 0.03;

    /// <summary>The four sizes of the peak check: a name, the model, how it is trained, and what it freezes. Freezing the
    /// embedding and half of gpt2-124M's blocks (81M of its 124M parameters) takes their gradients and AdamW state (0.9 GB)
    /// and the fused loss's dW out of the plan; a plan that still counted them was 1.6x the measured peak.</summary>
    static readonly (string Name, string Preset, int MicroBatch, int Context, TrainingDtype Dtype, string[]? Freeze)[] Sizes =
    [
        ("nanogpt-cpu, GPT-2 vocab", "nanogpt-cpu", 12, 64, TrainingDtype.Fp32, null),
        ("gpt2-124M", "gpt2-124M", 4, 128, TrainingDtype.Fp32, null),
        ("gpt2-124M, 81M frozen", "gpt2-124M", 4, 128, TrainingDtype.Fp32, ["model.embed_tokens", "model.layers.0-5"]),
        ("llama3-220M bf16", "llama3-220M", 2, 256, TrainingDtype.Bf16, null),
    ];

    public void Run(string[] args)
    {
        if (args.Length > 0 && args[0] == "--child") { Child(int.Parse(args[1], CultureInfo.InvariantCulture), int.Parse(args[2], CultureInfo.InvariantCulture)); return; }
        int steps = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 3;
        var sections = args.Length > 1 ? args[1].Split(',') : ["activations", "peak", "allocator"];
        bool ok = true;
        if (sections.Contains("activations")) ok &= Activations();
        if (sections.Contains("peak")) ok &= Peaks(steps);
        if (sections.Contains("allocator")) Allocator(steps);
        Console.WriteLine(ok ? "memory plan: every check passed" : "memory plan: FAILED (see above)");
        if (!ok) Environment.Exit(1);
    }

    // ---- (1) activations per block kind ----

    static bool Activations()
    {
        const int batch = 32, context = 64;
        var llama = Presets.Get("llama-cpu");
        var nano = Presets.Get("nanogpt-cpu");
        var variants = new (string Name, ModelConfig Model, TrainingDtype Dtype)[]
        {
            ("LayerNorm MHA GELU learned", nano, TrainingDtype.Fp32),
            ("  bf16", nano, TrainingDtype.Bf16),
            ("  raw attention", nano with { AttentionKinds = [AttentionKind.Raw] }, TrainingDtype.Fp32),
            ("RMSNorm GQA SwiGLU RoPE", llama, TrainingDtype.Fp32),
            ("  bf16", llama, TrainingDtype.Bf16),
            ("  MQA (1 kv head)", llama with { NKvHead = 1 }, TrainingDtype.Fp32),
            ("  MQA, dropout 0.1", llama with { NKvHead = 1, Dropout = 0.1 }, TrainingDtype.Fp32),
            ("  ReLU²", llama with { FeedForwardKinds = [FeedForwardKind.Relu2] }, TrainingDtype.Fp32),
            ("  QK-norm", llama with { QkNorm = true }, TrainingDtype.Fp32),
            ("  value embeddings", llama with { ValueEmbeddings = true }, TrainingDtype.Fp32),
            ("  dropout 0.1", llama with { Dropout = 0.1 }, TrainingDtype.Fp32),
            ("  U-net skips, bf16", llama with { SkipConnections = true }, TrainingDtype.Bf16),
            ("  logit soft-cap", llama with { LogitSoftcap = 30 }, TrainingDtype.Fp32),
            ("  recomputed", llama with { RecomputeActivations = true }, TrainingDtype.Fp32),
            ("GQA/differential alternating", Presets.Get("diff-cpu"), TrainingDtype.Fp32),
        };
        Console.WriteLine($"Activations a forward keeps, bytes per token at {batch} x {context} (char vocabulary; + 8 B a logit, 12 with the soft cap, for the logits and their log-probabilities):");
        Console.WriteLine($"  {"variant",-30}{"planned",10}{"measured",10}{"ratio",8}");
        bool ok = true;
        foreach (var (name, model, dtype) in variants)
        {
            var planned = ActivationMemory.Of(model, batch, context, dtype).Total / (double)(batch * context) + (model.LogitSoftcap > 0 ? 12 : 8) * model.VocabSize;
            var measured = ForwardBytes(model, dtype, batch, context) / (batch * context);
            var ratio = planned / measured;
            bool inside = Math.Abs(ratio - 1) <= ActivationTolerance;
            ok &= inside;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name,-30}{planned,10:N0}{measured,10:N0}{ratio,8:F3}{(inside ? "" : "  <- outside 3 %")}"));
        }
        return ok;
    }

    /// <summary>
    /// Resident bytes a training forward (and its loss) adds, with the C heap trimmed on both sides: the least of two
    /// steps after a warm-up one (which allocates the gradients); a block the heap cannot give back only adds.
    /// </summary>
    static double ForwardBytes(ModelConfig model, TrainingDtype dtype, int batch, int context)
    {
        using var precision = PrecisionPolicy.Create(dtype, () => new CausalLM(model), CPU);
        using var x = randint(model.VocabSize, [batch, context], dtype: ScalarType.Int64);
        double measured = double.MaxValue;
        for (int step = 0; step < 3; step++)
        {
            using var scope = NewDisposeScope();
            var before = TrimmedRss();
            var loss = LanguageModelLoss.Mean(precision.Compute.forward(x), x);
            if (step > 0) measured = Math.Min(measured, TrimmedRss() - before);
            loss.backward();
            ActivationRecompute.ReleaseBackwardTensors();
        }
        return measured;
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    static extern int MallocTrim(nuint pad);

    static double TrimmedRss()
    {
        MallocTrim(0);
        return ResidentMemory.Megabytes() * (1 << 20);
    }

    // ---- (2) planned against measured peak, one fresh process per size ----

    /// <summary>A size's measured peak, its plan, and what the plan would add if it counted the frozen parameters as trained.</summary>
    sealed record PeakResult(double PeakRssMb, MemoryPlan Plan, long FrozenBytes);

    static bool Peaks(int steps)
    {
        Console.WriteLine($"Planned against measured peak, {steps} steps in a fresh process each (MB = 2^20 bytes):");
        var (ok, results) = PeakTable(steps, mmapThreshold: null);
        foreach (var (name, r) in results) Console.WriteLine($"  {name}: {r.Plan.Summary()}");
        return ok & NegativeControl(results);
    }

    static void Allocator(int steps)
    {
        Console.WriteLine($"The same with MALLOC_MMAP_THRESHOLD_=65536 (freed blocks go back to the kernel: the resident peak is the tensors' peak):");
        PeakTable(steps, mmapThreshold: 65536);
    }

    static (bool Ok, List<(string Name, PeakResult Result)> Results) PeakTable(int steps, int? mmapThreshold)
    {
        Console.WriteLine($"  {"size",-26}{"runtime",9}{"planned",9}{"measured",10}{"plan/meas.",11}  peak phase");
        var results = new List<(string Name, PeakResult Result)>();
        bool ok = true;
        for (int i = 0; i < Sizes.Length; i++)
        {
            var r = RunChild(i, steps, mmapThreshold);
            results.Add((Sizes[i].Name, r));
            var ratio = r.Plan.PeakMb / r.PeakRssMb;
            bool inside = Math.Abs(ratio - 1) <= PeakTolerance;
            ok &= inside;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {Sizes[i].Name,-26}{r.Plan.RuntimeBytes / (double)(1 << 20),9:N0}{r.Plan.PeakMb,9:N0}{r.PeakRssMb,10:N0}{ratio,11:F3}  {r.Plan.PeakPhase.Name}{(inside ? "" : "  <- outside 25 %")}"));
        }
        return (ok, results);
    }

    /// <summary>
    /// Each plan without one of its terms: the check must fail for at least one size when the optimizer state or the
    /// peak phase is left out (else 25 % would not tell a plan that forgets them from one that counts them). The logits
    /// and loss are shown but not required to fail: the fused loss holds a tile of them, 57-181 MB here (before it,
    /// leaving them out put the GPT-2-vocabulary model at 0.30). The last row adds instead: the frozen parameters'
    /// gradients and optimizer state, as a plan that ignored freeze would count them; it must fail for the frozen size.
    /// </summary>
    static bool NegativeControl(List<(string Name, PeakResult Result)> results)
    {
        var dropped = new (string Term, Func<PeakResult, long> Bytes, bool MustFail)[]
        {
            ("weights", r => r.Plan.WeightBytes, false),
            ("gradients", r => r.Plan.GradientBytes, false),
            ("optimizer state", r => r.Plan.OptimizerStateBytes, true),
            ("logits and loss", r => r.Plan.PeakPhase.Name == "loss" ? r.Plan.LossPeakBytes : 0, false),
            ("the peak phase", r => r.Plan.PeakPhase.Bytes, true),
            ("freeze (+ frozen)", r => -r.FrozenBytes, true),
        };
        Console.WriteLine("Negative control: plan/measured with one term left out:");
        Console.WriteLine($"  {"left out",-18}" + string.Concat(results.Select(r => $"{r.Name,26}")));
        bool ok = true;
        foreach (var (term, bytes, mustFail) in dropped)
        {
            var ratios = results.Select(r => (r.Result.Plan.PeakBytes - bytes(r.Result)) / (double)(1 << 20) / r.Result.PeakRssMb).ToList();
            bool fails = ratios.Any(x => Math.Abs(x - 1) > PeakTolerance);
            if (mustFail && !fails) ok = false;
            Console.WriteLine($"  {term,-18}" + string.Concat(ratios.Select(x => string.Create(CultureInfo.InvariantCulture, $"{x,25:F3}{(Math.Abs(x - 1) > PeakTolerance ? "*" : " ")}"))) +
                              (mustFail && !fails ? "   <- should fail and does not" : ""));
        }
        Console.WriteLine("  (* outside 25 %)");
        return ok;
    }

    static PeakResult RunChild(int size, int steps, int? mmapThreshold)
    {
        var self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        if (mmapThreshold is { } bytes) start.Environment["MALLOC_MMAP_THRESHOLD_"] = bytes.ToString(CultureInfo.InvariantCulture);
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(typeof(MemoryBench).Assembly.Location);
        foreach (var a in new[] { "memory-plan", "--child", size.ToString(CultureInfo.InvariantCulture), steps.ToString(CultureInfo.InvariantCulture) }) start.ArgumentList.Add(a);
        using var child = Process.Start(start)!;
        var output = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        var line = output.Split('\n').LastOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        if (child.ExitCode != 0 || line is null) throw new InvalidOperationException($"the {Sizes[size].Name} run failed (exit {child.ExitCode}):\n{output}");
        return JsonSerializer.Deserialize<PeakResult>(line["RESULT ".Length..], ModelConfig.Json)!;
    }

    /// <summary>In the child: trains size <paramref name="size"/> for <paramref name="steps"/> steps and prints its peak and plan.</summary>
    static void Child(int size, int steps)
    {
        var (_, preset, micro, context, dtype, freeze) = Sizes[size];
        var model = Presets.Get(preset) with { VocabSize = 50304 };
        var tokens = Corpus.Prepared("tinyshakespeare", "gpt2");
        var training = RunRecipes.NanoGptCpuTraining with
        {
            MicroBatch = micro, ContextLength = context, Dtype = dtype, Freeze = freeze, MaxSteps = steps, WarmupSteps = 1,
            EvalInterval = 1_000_000, EvalBatches = 1, LogInterval = 1_000_000, GradFlowInterval = 0, CheckpointInterval = 0,
            PeakFlops = 1e12, // skip the start-up matmul probe: this bench measures memory
        };
        var dir = Path.Combine(Path.GetTempPath(), $"lmh-memorybench-{Environment.ProcessId}");
        try
        {
            var trainer = Trainer.For(model, training, tokens, dir);
            trainer.Progress = null;
            var result = trainer.Train();
            // The trainer's plan, term by term (its result keeps the total and the arithmetic): the same configs and runtime.
            var planned = result.PlannedMemory!;
            var plan = MemoryPlan.For(model, training, (long)Math.Round(planned.RuntimeMb * (1 << 20)), "measured: resident at the run's start");
            if (Math.Abs(plan.PeakMb - planned.PeakMb) > 0.01) throw new InvalidOperationException($"the trainer planned {planned.PeakMb} MB, the bench {plan.PeakMb} MB");
            var frozen = MemoryPlan.For(model, training with { Freeze = null }, plan.RuntimeBytes, plan.RuntimeBasis).PeakBytes - plan.PeakBytes;
            Console.WriteLine("RESULT " + JsonSerializer.Serialize(new PeakResult(result.PeakRssMb, plan, frozen), new JsonSerializerOptions(ModelConfig.Json) { WriteIndented = false }));
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }
}

using System.Diagnostics;
using LMHarness.Config;
using LMHarness.Training;
using LMHarness.Experiments;

namespace LMHarness.Bench;

/// <summary>
/// Training throughput and memory, measured side by side in one run:
/// (1) tokens/s of fp32 vs bf16 (bf16 compute copy + fp32 master weights) on nanogpt-cpu and on the d=512 preset
/// "smol" (char vocab, context 64). Memory over many steps is the <c>memory</c> bench (<see cref="MemoryBench"/>).
/// Usage: train [text-path] [steps-small] [steps-d512] (0 steps skips that measurement)
/// </summary>
public sealed class TrainBench : IBench
{
    public string Name => "train";
    public string Description => "fp32 vs bf16 tokens/s (nanogpt-cpu, smol d512)";

    public void Run(string[] args)
    {
        var text = args.Length > 0 ? args[0] : TextPath();
        var stepsSmall = args.Length > 1 ? int.Parse(args[1]) : 120;
        var stepsBig = args.Length > 2 ? int.Parse(args[2]) : 6;
        var root = Path.Combine(Path.GetTempPath(), "lmh-trainbench-" + Environment.ProcessId);
        Directory.CreateDirectory(root);
        try
        {
            var tokens = RunRecipes.PrepareCharTokenFile(text, Path.Combine(root, "shakespeare_char.bin"));
            Console.WriteLine($"threads {TorchSharp.torch.get_num_threads()}, {Environment.ProcessorCount} cores");
            var baseCfg = RunRecipes.NanoGptCpuTraining with
            {
                EvalInterval = 1_000_000, EvalBatches = 1, LogInterval = 1_000_000, GradFlowInterval = 0, CheckpointInterval = 0, WarmupSteps = 0,
                PeakFlops = 1e12, // skip the start-up matmul probe; this bench reports tokens/s, not MFU
            };
            var nano = Presets.Get("nanogpt-cpu");
            var smol = Presets.Get("smol") with { VocabSize = 65, ContextLength = 64 };
            foreach (var (name, model, steps) in new[] { ("nanogpt-cpu", nano, stepsSmall), ("smol (d512, 30L)", smol, stepsBig) }.Where(x => x.Item3 > 0))
            {
                var fp32 = TokensPerSecond(model, baseCfg with { MaxSteps = steps, Dtype = TrainingDtype.Fp32 }, tokens, Path.Combine(root, "fp32"));
                var bf16 = TokensPerSecond(model, baseCfg with { MaxSteps = steps, Dtype = TrainingDtype.Bf16 }, tokens, Path.Combine(root, "bf16"));
                Console.WriteLine($"{name,-18} fp32 {fp32.TokS,9:N0} tok/s ({fp32.MsStep,7:F1} ms/step, loss {fp32.Loss:F3})   " +
                                  $"bf16 {bf16.TokS,9:N0} tok/s ({bf16.MsStep,7:F1} ms/step, loss {bf16.Loss:F3})   bf16/fp32 {bf16.TokS / fp32.TokS:F2}x");
            }

        }
        finally { Directory.Delete(root, true); }
    }

    /// <summary>Tokens/s over the steps after the first 20 % (warm-up of allocator and kernels excluded).</summary>
    static (double TokS, double MsStep, double Loss) TokensPerSecond(ModelConfig model, TrainingConfig cfg, string tokens, string dir)
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
        using var data = TokenFileBatches.Open(tokens, cfg);
        var trainer = new Trainer(model, cfg, data, dir, c => new Model.CausalLM(c));
        var warm = Math.Max(1, cfg.MaxSteps / 5);
        var sw = new Stopwatch();
        double loss = 0;
        trainer.StepCompleted += r => { if (r.Step == warm) sw.Start(); if (r.Step == cfg.MaxSteps) sw.Stop(); loss = r.TrainLoss; };
        trainer.Train();
        var steps = cfg.MaxSteps - warm;
        return (steps * (double)cfg.TokensPerStep / sw.Elapsed.TotalSeconds, sw.Elapsed.TotalMilliseconds / steps, loss);
    }

    /// <summary>TinyShakespeare: LMHARNESS_TINYSHAKESPEARE, else shared/data/ in a folder above the bench.</summary>
    internal static string TextPath()
    {
        var env = Environment.GetEnvironmentVariable("LMHARNESS_TINYSHAKESPEARE");
        if (!string.IsNullOrEmpty(env) && File.Exists(env)) return env;
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var p = Path.Combine(d.FullName, "shared", "data", "tinyshakespeare.txt");
            if (File.Exists(p)) return p;
        }
        throw new FileNotFoundException("tinyshakespeare.txt not found: pass its path as the first argument or set LMHARNESS_TINYSHAKESPEARE.");
    }
}

using System.Diagnostics;
using LMHarness.Config;
using LMHarness.Data;
using LMHarness.Experiments;
using LMHarness.Tokenizers;
using LMHarness.Training;

namespace LMHarness.Bench;

/// <summary>
/// What checking each token-file block on its first read (<see cref="TokenBlocks"/>) costs a run, side by side in one
/// process: the CRC-32C rate; the step time of the default CPU model (train.csx: preset nanogpt-cpu, nanoGPT's
/// batch of 12 x 64, on TinyShakespeare characters) and the check time its data costs; and, on a generated GPT-2-vocab
/// file of --big-mb MB, the check time per step while random windows of that batch reach every block, from which the
/// cost for a 10 GB file follows. Args: [--big-mb N] (default 1024) [--steps N] (nanogpt-cpu steps timed, default 60)
/// [--step-ms X] (also give percentages of a step of X ms, e.g. one measured on an idle machine when this one is busy).
/// </summary>
public sealed class BlockCheckBench : IBench
{
    public string Name => "block-checks";
    public string Description => "token-file block checks: CRC-32C MB/s, check time vs nanogpt-cpu step time, extrapolated to 10 GB";

    public void Run(string[] args)
    {
        int bigMb = args.SkipWhile(a => a != "--big-mb").Skip(1).Select(int.Parse).FirstOrDefault(1024);
        int steps = args.SkipWhile(a => a != "--steps").Skip(1).Select(int.Parse).FirstOrDefault(60);
        double referenceMs = args.SkipWhile(a => a != "--step-ms").Skip(1).Select(double.Parse).FirstOrDefault(0);
        var work = Path.Combine(Path.GetTempPath(), "lmh-blockbench-" + Environment.ProcessId);
        Directory.CreateDirectory(work);
        try
        {
            double rate = CrcRate();
            Console.WriteLine($"CRC-32C, 256 MB in memory: {rate:F0} MB/s (block {TokenBlocks.DefaultBlockBytes >> 20} MB: {TokenBlocks.DefaultBlockBytes / 1e3 / rate:F2} ms per block)");

            var training = RunRecipes.NanoGptCpuTraining with { MaxSteps = 500, EvalInterval = 100, EvalBatches = 20 }; // train.csx's defaults
            var tokens = RunRecipes.PrepareCharTokenFile(TrainBench.TextPath(), Path.Combine(work, "shakespeare_char.bin"));
            double msStep = StepMilliseconds(Presets.Get("nanogpt-cpu"), training, tokens, Path.Combine(work, "run"), steps);
            var (shakespeareSeconds, _, _) = CheckCost(tokens, training, training.MaxSteps);
            double run = training.MaxSteps * msStep / 1e3;
            Console.WriteLine($"nanogpt-cpu, batch {training.MicroBatch} x {training.ContextLength}: {msStep:F1} ms/step");
            Console.WriteLine($"  TinyShakespeare char ({new FileInfo(tokens).Length / 1e6:F1} MB): block checks {shakespeareSeconds * 1e3:F2} ms over a {training.MaxSteps}-step run " +
                              $"({run:F0} s) = {100 * shakespeareSeconds / run:F4} % of training time");

            var big = Generated(work, bigMb);
            var (bigSeconds, stepsToAll, firstStep) = CheckCost(big, training, 1_000_000);
            long blocks = TokenBlocks.BlockCount(new FileInfo(big).Length, TokenBlocks.DefaultBlockBytes);
            Console.WriteLine($"  generated {bigMb} MB ({blocks} blocks): every block checked after {stepsToAll} steps, {bigSeconds:F2} s in all " +
                              $"= {bigSeconds * 1e3 / stepsToAll:F2} ms/step = {100 * bigSeconds * 1e3 / stepsToAll / msStep:F1} % of those steps; first step {firstStep * 1e3:F1} ms");

            // 10 GB: the checks cost one pass over the file at the CRC rate, spread over the steps that first touch each
            // block (coupon collector: about blocks x H(blocks) / rows steps reach them all).
            double tenGb = 10_000 / rate;
            long blocks10 = TokenBlocks.BlockCount(10_000_000_000L, TokenBlocks.DefaultBlockBytes);
            double harmonic = Math.Log(blocks10) + 0.5772;
            double steps10 = blocks10 * harmonic / training.MicroBatch;
            Console.WriteLine($"  10 GB file ({blocks10} blocks): {tenGb:F1} s of checks in all, spread over ~{steps10:F0} steps = {tenGb * 1e3 / steps10:F2} ms/step " +
                              $"({100 * tenGb * 1e3 / steps10 / msStep:F1} % of a {msStep:F0} ms step while blocks are new; a first step reads up to " +
                              $"{training.MicroBatch} new blocks, {(double)training.MicroBatch * TokenBlocks.DefaultBlockBytes / 1e3 / rate:F0} ms)");
            if (referenceMs > 0)
                Console.WriteLine($"  against a {referenceMs:F0} ms step: 10 GB {100 * tenGb * 1e3 / steps10 / referenceMs:F1} % of each step while blocks are new " +
                                  $"(first step {100.0 * training.MicroBatch * TokenBlocks.DefaultBlockBytes / 1e3 / rate / referenceMs:F0} %), " +
                                  $"generated {bigMb} MB {100 * bigSeconds * 1e3 / stepsToAll / referenceMs:F1} %, TinyShakespeare {100 * shakespeareSeconds * 1e3 / (training.MaxSteps * referenceMs):F4} %");
        }
        finally { Directory.Delete(work, true); }
    }

    static double CrcRate()
    {
        var data = new byte[256 << 20];
        new Random(1).NextBytes(data);
        TokenBlocks.Crc32C(data.AsSpan(0, 1 << 20)); // JIT
        double best = double.MaxValue; // best of 3: on a shared machine the slower passes measure the other jobs
        for (int i = 0; i < 3; i++)
        {
            var sw = Stopwatch.StartNew();
            TokenBlocks.Crc32C(data);
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return data.Length / 1e6 / best;
    }

    /// <summary>Milliseconds per training step after the first 20 % (warm-up excluded), as TrainBench measures it.</summary>
    static double StepMilliseconds(ModelConfig model, TrainingConfig training, string tokens, string dir, int steps)
    {
        var cfg = training with
        {
            MaxSteps = steps, EvalInterval = 1_000_000, EvalBatches = 1, LogInterval = 1_000_000, GradFlowInterval = 0,
            CheckpointInterval = 0, WarmupSteps = 0, PeakFlops = 1e12,
        };
        using var data = TokenFileBatches.Open(tokens, cfg);
        var trainer = new Trainer(model, cfg, data, dir, c => new Model.CausalLM(c));
        var warm = Math.Max(1, steps / 5);
        var sw = new Stopwatch();
        trainer.StepCompleted += r => { if (r.Step == warm) sw.Start(); if (r.Step == steps) sw.Stop(); };
        trainer.Train();
        return sw.Elapsed.TotalMilliseconds / (steps - warm);
    }

    /// <summary>
    /// Draws the run's training batches from a fresh open of <paramref name="path"/> until every block of the train split was checked or
    /// <paramref name="maxSteps"/> steps: the check seconds, the steps drawn and the first step's check seconds.
    /// </summary>
    static (double Seconds, long Steps, double FirstStep) CheckCost(string path, TrainingConfig training, long maxSteps)
    {
        using var file = TokenFile.Open(path, checkIds: false);
        var sampler = new RandomWindows(file, training.MicroBatch, training.ContextLength, training.Seed);
        var x = new long[training.MicroBatch * training.ContextLength];
        var y = new long[x.Length];
        var blocks = file.Blocks ?? throw new InvalidOperationException($"{path} has no block sums");
        // Training windows read ids [0, TrainTokens + 1): blocks wholly in the val split are never theirs to check.
        int width = file.Info.BytesPerToken;
        int trainBlocks = TokenBlocks.BlockCount(Math.Min(file.Count, file.TrainTokens + 1) * width, blocks.BlockBytes);
        double first = 0;
        long step = 0;
        while (step < maxSteps && blocks.Verified < trainBlocks)
        {
            sampler.NextInto(x, y);
            if (++step == 1) first = blocks.Seconds;
        }
        return (blocks.Seconds, step, first);
    }

    static string Generated(string work, int megabytes)
    {
        var path = Path.Combine(work, "big.bin");
        long ids = megabytes * 1_000_000L / 2;
        var rng = new Random(2);
        var chunk = new int[1 << 20];
        using var w = new TokenFileWriter(path, new TokenizerIdentity(TokenizerKind.Gpt2, 50257));
        for (long done = 0; done < ids; done += chunk.Length)
        {
            var n = (int)Math.Min(chunk.Length, ids - done);
            for (var i = 0; i < n; i++) chunk[i] = rng.Next(50257);
            w.Write(chunk.AsSpan(0, n));
        }
        w.Complete(0.001, 1, []);
        return path;
    }
}

using System.Diagnostics;
using LMHarness.Config;
using LMHarness.Data;
using LMHarness.IO;
using LMHarness.Model;
using LMHarness.Tokenizers;
using LMHarness.Training.Checkpoints;
using LMHarness.Training.Optimizers;
using TorchSharp;

namespace LMHarness.Bench;

/// <summary>
/// What the integrity checks cost, side by side in one run: a 100 MB+ checkpoint (a ~9M-parameter model with its
/// AdamW state) saved, verified alone and loaded (verification included); a generated GPT-2-vocab token file written
/// (hash on the way + read-back), opened (the id scan every open does) and verified (SHA-256 of every byte), as MB/s,
/// so the cost for a multi-GB file can be extrapolated. Args: [--token-mb N] (token file size, default 512).
/// </summary>
public sealed class IntegrityBench : IBench
{
    public string Name => "integrity";
    public string Description => "checkpoint save/verify/load and token-file write/open/verify MB/s (checksum costs)";

    public void Run(string[] args)
    {
        int tokenMb = args.SkipWhile(a => a != "--token-mb").Skip(1).Select(int.Parse).FirstOrDefault(512);
        var work = Path.Combine(Path.GetTempPath(), "lmh-integritybench-" + Environment.ProcessId);
        Directory.CreateDirectory(work);
        try
        {
            Console.WriteLine($"SHA-256 alone, 256 MB in memory: {HashRate():F0} MB/s");
            Checkpoints(work);
            TokenFiles(work, tokenMb);
        }
        finally { Directory.Delete(work, true); }
    }

    static double Seconds(Action a)
    {
        var sw = Stopwatch.StartNew();
        a();
        return sw.Elapsed.TotalSeconds;
    }

    static double HashRate()
    {
        var data = new byte[256 << 20];
        new Random(1).NextBytes(data);
        using var ms = new MemoryStream(data);
        var s = Seconds(() => ContentHash.Of(ms, data.Length));
        return data.Length / 1e6 / s;
    }

    static void Checkpoints(string work)
    {
        var config = new ModelConfig
        {
            VocabSize = 8192, ContextLength = 256, NLayer = 4, DModel = 384, NHead = 6, NKvHead = 6, FfnHidden = 1536,
        };
        var training = new TrainingConfig { MaxSteps = 10, WarmupSteps = 1, ContextLength = 16 };
        using var model = new CausalLM(config);
        using var optimizer = OptimizerFactory.Create(model, training);
        using (var scope = torch.NewDisposeScope())
        {
            // One step, so the AdamW moments exist and the file has its full size (weights + 2 moments).
            var x = torch.randint(0, config.VocabSize, [2, 16]);
            model.Loss(x, x).backward();
            optimizer.Step(1.0);
        }
        var state = new CheckpointState(1, 32, 0, null, config, training, null, null);
        var path = Path.Combine(work, "step_0000001.ckpt");
        var save = Seconds(() => Checkpoint.Save(path, state, model, optimizer));
        var mb = new FileInfo(path).Length / 1e6;
        Checkpoint.Verify(path); // warm the page cache, as a resume right after a save finds it
        var verify = Seconds(() => Checkpoint.Verify(path));
        using var other = new CausalLM(config);
        using var otherOptimizer = OptimizerFactory.Create(other, training);
        var load = Seconds(() => Checkpoint.Load(path, other, otherOptimizer));
        var loadModel = Seconds(() => Checkpoint.LoadModel(path, other));
        Console.WriteLine($"checkpoint {mb:F0} MB ({model.parameters().Sum(p => p.numel()):N0} params + AdamW state):");
        Console.WriteLine($"  save (hashing on the way, fsync)  {save:F2} s");
        Console.WriteLine($"  verify alone (all four sections)  {verify:F2} s = {mb / verify:F0} MB/s");
        Console.WriteLine($"  load (verify + parse + copy)      {load:F2} s; verification is {100 * verify / load:F0} % of it");
        Console.WriteLine($"  load model only (whole file verified) {loadModel:F2} s");
    }

    static void TokenFiles(string work, int megabytes)
    {
        var path = Path.Combine(work, "tokens.bin");
        var tokenizer = new TokenizerIdentity(TokenizerKind.Gpt2, 50257);
        long ids = megabytes * 1_000_000L / 2;
        var rng = new Random(2);
        var chunk = new int[1 << 20];
        var write = Seconds(() =>
        {
            using var w = new TokenFileWriter(path, tokenizer);
            for (long done = 0; done < ids; done += chunk.Length)
            {
                var n = (int)Math.Min(chunk.Length, ids - done);
                for (var i = 0; i < n; i++) chunk[i] = rng.Next(50257);
                w.Write(chunk.AsSpan(0, n));
            }
            w.Complete(0.01, 1, []);
        });
        var mb = new FileInfo(path).Length / 1e6;
        var open = Seconds(() => { using var f = TokenFile.Open(path); });
        var openNoScan = Seconds(() => { using var f = TokenFile.Open(path, checkIds: false); });
        TokenFileVerification? v = null;
        var verify = Seconds(() => v = TokenFile.Verify(path));
        Console.WriteLine($"token file {mb:F0} MB ({ids:N0} uint16 ids), page cache warm:");
        Console.WriteLine($"  write incl. hash + read-back check {write:F2} s (id generation included)");
        Console.WriteLine($"  open with id scan (every open)     {open:F2} s = {mb / open:F0} MB/s; without scan {openNoScan * 1000:F1} ms");
        Console.WriteLine($"  verify (SHA-256 of every byte)     {verify:F2} s = {v!.MegabytesPerSecond:F0} MB/s -> {10_000 / v.MegabytesPerSecond:F0} s for a 10 GB file");
    }
}

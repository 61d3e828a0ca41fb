using LMHarness.Config;
using LMHarness.Data;
using LMHarness.Tokenizers;
using LMHarness.Training;

namespace LMHarness.Tests.Training;

/// <summary>A tiny model, a small synthetic token file and temp run folders, so trainer tests take seconds.</summary>
static class TrainingFixtures
{
    /// <summary>1 layer, d 16, vocab 32, context 8, dropout 0.1 (so exact resume must restore torch's RNG too).</summary>
    public static ModelConfig TinyModel => new()
    {
        VocabSize = 32, ContextLength = 8, NLayer = 1, DModel = 16, NHead = 2, NKvHead = 2, FfnHidden = 32,
        AttentionKinds = [AttentionKind.Mha], FeedForwardKinds = [FeedForwardKind.Mlp], Position = PositionKind.Learned,
        Norm = NormKind.LayerNorm, Bias = true, Dropout = 0.1,
    };

    public static TrainingConfig TinyTraining => new()
    {
        LearningRate = 3e-3, MinLearningRate = 3e-4, WarmupSteps = 2, MaxSteps = 12, MicroBatch = 4, GradAccumulation = 2,
        ContextLength = 8, EvalInterval = 4, EvalBatches = 3, LogInterval = 1, GradFlowInterval = 5, CheckpointInterval = 0,
        KeepCheckpoints = 2, Seed = 11, Threads = 1, Device = "cpu", PeakFlops = 1e11,
    };

    /// <summary>The char table of <see cref="TokenFile"/>: 32 ASCII characters, one UTF-8 byte each.</summary>
    public const string AsciiTable = " !,.;?abcdefghijklmnopqrstuvwxyz";

    /// <summary>
    /// 4,000 ids of a noisy counting sequence (learnable: next = current + 1 mod 32, 10 % random), 10 % val, under a
    /// char tokenizer of <paramref name="table"/> (32 sorted chars; default <see cref="AsciiTable"/>), in <c>tokens.bin</c>
    /// or, with another table, <paramref name="name"/>.
    /// </summary>
    public static string TokenFile(string dir, string table = AsciiTable, string name = "tokens.bin")
    {
        var path = Path.Combine(dir, name);
        if (File.Exists(path)) return path;
        var rng = new Random(5);
        var ids = new int[4000];
        for (var i = 1; i < ids.Length; i++) ids[i] = rng.NextDouble() < 0.1 ? rng.Next(32) : (ids[i - 1] + 1) % 32;
        using var w = new TokenFileWriter(path, new TokenizerIdentity(TokenizerKind.Char, 32, table));
        w.Write(ids);
        w.Complete(0.1, 1, []);
        return path;
    }
}

using LMHarness.Config;
using LMHarness.Model;
using static TorchSharp.torch;

namespace LMHarness.Tests.Model;

/// <summary>Tiny configs (d 32, 4 heads) so every block combination builds and runs in milliseconds.</summary>
static class Tiny
{
    public static readonly AttentionKind[] AttentionKinds = Enum.GetValues<AttentionKind>();
    public static readonly PositionKind[] PositionKinds = Enum.GetValues<PositionKind>();

    public static ModelConfig Config(AttentionKind attention, PositionKind position, FeedForwardKind ffn = FeedForwardKind.SwiGlu,
        NormKind norm = NormKind.RmsNorm, int nKvHead = 2, bool bias = false) => new ModelConfig
    {
        VocabSize = 37,
        ContextLength = 48,
        NLayer = 2,
        DModel = 32,
        NHead = 4,
        NKvHead = attention == AttentionKind.Gqa ? nKvHead : 4,
        FfnHidden = 48,
        AttentionKinds = [attention],
        FeedForwardKinds = [ffn],
        Position = position,
        Norm = norm,
        Bias = bias,
    }.Validated();

    public static CausalLM Build(ModelConfig config, long seed = 1234)
    {
        manual_seed(seed);
        var model = new CausalLM(config);
        model.eval();
        return model;
    }

    public static Tensor Tokens(ModelConfig config, int batch, int time, long seed = 99)
    {
        var g = new Generator((ulong)seed);
        return randint(config.VocabSize, [batch, time], dtype: ScalarType.Int64, generator: g);
    }

    /// <summary>Attention kinds x position kinds (+ MQA as GQA with one K/V head).</summary>
    public static IEnumerable<object[]> AttentionByPosition()
    {
        foreach (var a in AttentionKinds)
        foreach (var p in PositionKinds)
        {
            yield return [a, p, 2];
            if (a == AttentionKind.Gqa) yield return [a, p, 1];
        }
    }

    public static double MaxAbsDiff(Tensor a, Tensor b) => (a - b).abs().max().item<float>();

    /// <summary>The speedrun options (issue 14), one at a time, then all but zero-init together ("blocks").</summary>
    public static readonly string[] Options = ["qk_norm", "relu2", "logit_softcap", "value_embeddings", "skip_connections", "zero_init_outputs", "blocks"];

    /// <summary>
    /// <paramref name="config"/> with one speedrun option on. Skips use 5 layers, so two pairs are joined last in first
    /// out and the middle block takes none; the cap is 2, low enough to bend these tiny models' logits.
    /// </summary>
    public static ModelConfig With(ModelConfig config, string option) => option switch
    {
        "qk_norm" => config with { QkNorm = true },
        "relu2" => config with { FeedForwardKinds = [FeedForwardKind.Relu2] },
        "logit_softcap" => config with { LogitSoftcap = 2.0 },
        "value_embeddings" => config with { ValueEmbeddings = true },
        "skip_connections" => config with { SkipConnections = true, NLayer = 5 },
        "zero_init_outputs" => config with { ZeroInitOutputs = true },
        "blocks" => config with
        {
            QkNorm = true, FeedForwardKinds = [FeedForwardKind.Relu2], LogitSoftcap = 2.0, ValueEmbeddings = true,
            SkipConnections = true, NLayer = 5,
        },
        _ => throw new ArgumentException($"unknown option {option}"),
    };

    /// <summary>The option name of the plain blocks in <see cref="Cases"/>.</summary>
    public const string NoOption = "none";

    /// <summary>
    /// (option, attention, position, n_kv_head) for the cache and padding theories: every attention kind x position
    /// (+ MQA) with the plain blocks, then every speedrun option with every attention kind, rotary or learned.
    /// </summary>
    public static IEnumerable<object[]> Cases() =>
        AttentionByPosition().Select(x => new object[] { NoOption, x[0], x[1], x[2] })
            .Concat(from o in Options
                    from a in AttentionKinds
                    from p in new[] { PositionKind.Rope, PositionKind.Learned }
                    select new object[] { o, a, p, 2 });

    /// <summary>The config of a <see cref="Cases"/> row; option rows use wide weights (init_std 0.3) so the cap bends the logits.</summary>
    public static ModelConfig Case(string option, AttentionKind attention, PositionKind position, int nKvHead) =>
        option == NoOption ? Config(attention, position, nKvHead: nKvHead) : With(Config(attention, position, nKvHead: nKvHead) with { InitStd = 0.3 }, option);
}

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
}

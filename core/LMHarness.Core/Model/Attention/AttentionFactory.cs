using LMHarness.Config;

namespace LMHarness.Model.Attention;

/// <summary>Builds the attention of one layer from <see cref="ModelConfig.AttentionFor"/>.</summary>
public static class AttentionFactory
{
    public static CausalSelfAttention Create(ModelConfig config, int layer) => config.AttentionFor(layer) switch
    {
        AttentionKind.Raw => new RawAttention(config),
        AttentionKind.Mha => new MultiHeadAttention(config),
        AttentionKind.Gqa => new GroupedQueryAttention(config),
        AttentionKind.Differential => new DifferentialAttention(config, layer),
        var kind => throw new ArgumentOutOfRangeException(nameof(layer), kind, "unknown attention kind"),
    };
}

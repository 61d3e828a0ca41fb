using LMHarness.Config;

namespace LMHarness.Model.Attention;

/// <summary>
/// Multi-head attention (Vaswani et al. 2017) through the fused SDPA kernel: n_head query, key and value heads.
/// It is grouped-query attention with one query head per K/V head.
/// </summary>
public sealed class MultiHeadAttention : GroupedQueryAttention
{
    public MultiHeadAttention(ModelConfig config) : base(nameof(MultiHeadAttention), config, config.NHead) { }
}

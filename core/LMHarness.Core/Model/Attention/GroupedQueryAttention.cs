using LMHarness.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Model.Attention;

/// <summary>
/// Grouped-query attention (Ainslie et al. 2023, "GQA"): n_kv_head K/V heads, each shared by n_head / n_kv_head
/// query heads, through the fused scaled-dot-product kernel. n_kv_head = 1 is multi-query attention (Shazeer 2019);
/// n_kv_head = n_head is plain multi-head attention. The cache stores only the n_kv_head heads.
/// </summary>
public class GroupedQueryAttention : CausalSelfAttention
{
    public GroupedQueryAttention(ModelConfig config) : this(nameof(GroupedQueryAttention), config, config.NKvHead) { }

    protected GroupedQueryAttention(string name, ModelConfig config, int nKvHead) : base(name, config, nKvHead, qkSplit: 1)
    {
        RegisterComponents();
    }

    protected override Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        long rep = NHead / NKvHead;
        k = RepeatKv.Apply(k, rep);
        v = RepeatKv.Apply(v, rep);
        long tq = q.shape[2], tk = k.shape[2];
        // The kernel's is_causal mask is aligned top-left; with cached keys (tk > tq) pass the shifted mask instead,
        // and a padded batch brings its own per-row mask.
        var y = mask is null && tq == tk
            ? nn.functional.scaled_dot_product_attention(q, k, v, p: AttentionDropout, is_casual: true)
            : nn.functional.scaled_dot_product_attention(q, k, v, mask ?? CausalMask.Allowed(tq, tk, q.device), AttentionDropout);
        return y.MoveToOuterDisposeScope();
    }
}

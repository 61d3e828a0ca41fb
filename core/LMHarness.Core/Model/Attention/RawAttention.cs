using LMHarness.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Model.Attention;

/// <summary>
/// Scaled dot-product attention written out (Vaswani et al. 2017): softmax(Q K^T / sqrt(d) + causal mask) V, with
/// dropout on the attention map. Materialises the (T, T) map: slower than the fused kernel, but every step is
/// visible and it is the reference the fused path is tested against.
/// </summary>
public sealed class RawAttention : CausalSelfAttention
{
    public RawAttention(ModelConfig config) : base(nameof(RawAttention), config, config.NHead, qkSplit: 1)
    {
        RegisterComponents();
    }

    protected override Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        using Scalar scale = 1.0 / Math.Sqrt(q.shape[^1]);
        var scores = q.matmul(k.transpose(-2, -1)).mul(scale);
        var allowed = mask ?? CausalMask.Allowed(q.shape[2], k.shape[2], q.device);
        scores = scores.masked_fill(allowed.logical_not(), Scalars.NegativeInfinity);
        var probs = nn.functional.dropout(nn.functional.softmax(scores, -1), AttentionDropout, training);
        return probs.matmul(v).MoveToOuterDisposeScope();
    }
}

using LMHarness.Config;

namespace LMHarness.Summary;

/// <summary>
/// The activations a training forward leaves for backward: every tensor autograd saves, counted op by op for each block
/// kind, in bytes at (batch, context). c is the compute dtype's size (4 for fp32, 2 for bf16); d = d_model, f =
/// ffn_hidden, H = n_head, kv = the K/V width (kv heads x head_dim), T = context. Per token and layer:
/// <list type="bullet">
/// <item>each branch norm (two per block, one final): LayerNorm keeps its input and output (2 c d, + its per-row mean and
/// rstd, 2 c); RMSNorm (written out, statistics in fp32) keeps its input in fp32 (4 d: the input itself in fp32, a copy
/// in bf16, where the bf16 input is then kept by nothing), x / rms (c d), 1 / rms (4) and its output (c d);</item>
/// <item>attention through SDPA (MHA, GQA, MQA; TorchSharp's CPU flash kernel): Q after RoPE, K and V as the kernel
/// sees them, the output (the kernel's (B, T, H, hd) layout, so o_proj's contiguous input is the same memory) and the row
/// logsumexps: 2 c d + 2 c r + 4 H, where r = d when GQA repeats K and V to H heads (a copy; the narrow K and V before it
/// are kept by nothing) and r = kv with one K/V head (MQA: the repeat is a view). With dropout SDPA takes its math path:
/// scaled Q and K, the probabilities, the dropout mask and the dropped probabilities, V (its matmul copies a viewed V
/// to full width) and o_proj's input: 4 c d + 3 c H T;</item>
/// <item>raw attention: Q, K, the probabilities (H T per token), V and o_proj's input: 4 c d + c H T (+ 2 c H T for the
/// dropout mask and the dropped map), and its (T, T) bool mask per layer;</item>
/// <item>differential attention: Q, K, both maps (2 H T), their difference (H T), V, the head norm's fp32 input, x / rms
/// and 1 / rms (4 d + c d + 4 H) and o_proj's input: (4 + 5 c) d + 3 c H T + 4 H (+ c H T with dropout), and its mask;</item>
/// <item>QK-norm adds RMSNorm's fp32 input and x / rms of Q and K, (4 + c) (d + kv), and 1 / rms per head; value
/// embeddings add the token ids (8); RoPE adds nothing per token (cos and sin are shared tables);</item>
/// <item>MLP: GELU and ReLU² keep 2 c f (the activation's input or output, and down_proj's input), SwiGLU 4 c f (gate,
/// SiLU(gate), up, and their product);</item>
/// <item>dropout p &gt; 0 keeps a mask of the input's size and dtype (a bernoulli tensor, not bits) per residual branch,
/// 2 c d, and c d once after the embedding;</item>
/// <item>U-net skips in bf16 with RMSNorm keep each skipped block output (c d per pair): the norms keep only fp32 copies.</item>
/// </list>
/// The embedding keeps its token ids (8 bytes per token); the logits and the loss are <see cref="LossMemory"/>'s.
/// With activation recomputation each block keeps only its input (c d per token). Measured on the CPU (RSS after a
/// forward, against this count) within 1 % for every kind above; the counts follow what libtorch 2.10 saves.
/// </summary>
public sealed record ActivationMemory
{
    /// <summary>What one layer keeps for backward, in bytes per token (a block kept whole: no recomputation).</summary>
    public static long LayerBytesPerToken(ModelConfig config, int layer, int context, TrainingDtype dtype)
    {
        var c = config.Validated();
        long e = ElementBytes(dtype), d = c.DModel, f = c.FfnHidden, h = c.NHead, t = context;
        long kvHeads = c.AttentionFor(layer) == AttentionKind.Gqa ? c.NKvHead : c.NHead;
        long kv = kvHeads * c.HeadDim;
        bool dropout = c.Dropout > 0;
        // GQA repeats K and V to H heads with a copy; with one K/V head (MQA) the repeat is a view of the narrow tensors.
        long repeated = kvHeads == 1 ? kv : d;
        long attention = c.AttentionFor(layer) switch
        {
            AttentionKind.Raw => 4 * e * d + e * h * t + (dropout ? 2 * e * h * t : 0),
            AttentionKind.Differential => (4 + 5 * e) * d + 3 * e * h * t + 4 * h + (dropout ? e * h * t : 0),
            _ => dropout ? 4 * e * d + 3 * e * h * t : e * (2 * d + 2 * repeated) + 4 * h,
        };
        long qkSplit = c.AttentionFor(layer) == AttentionKind.Differential ? 2 : 1;
        long qkNorm = c.QkNorm ? (4 + e) * (d + kv) + 4 * qkSplit * (h + kvHeads) : 0;
        long valueEmbedding = c.ValueEmbeddings ? 8 : 0;
        long mlp = c.FeedForwardFor(layer) == FeedForwardKind.SwiGlu ? 4 * e * f : 2 * e * f;
        long residualDropout = dropout ? 2 * e * d : 0;
        return 2 * NormBytesPerToken(c, d, dtype) + attention + qkNorm + valueEmbedding + mlp + residualDropout;
    }

    /// <summary>A branch norm over <paramref name="dim"/> channels, its input and output included (see the class summary).</summary>
    public static long NormBytesPerToken(ModelConfig config, long dim, TrainingDtype dtype)
    {
        long e = ElementBytes(dtype);
        return config.Norm == NormKind.LayerNorm ? 2 * e * dim + 2 * e : (4 + 2 * e) * dim + 4;
    }

    /// <summary>Bytes of one element of the compute dtype: 4 (fp32) or 2 (bf16).</summary>
    public static long ElementBytes(TrainingDtype dtype) => dtype == TrainingDtype.Bf16 ? 2 : 4;

    /// <summary>The activations of a training forward at <paramref name="batch"/> x <paramref name="context"/> in
    /// <paramref name="dtype"/> (recomputation as the config says).</summary>
    public static ActivationMemory Of(ModelConfig config, int batch, int context, TrainingDtype dtype)
    {
        var c = config.Validated();
        if (batch <= 0 || context <= 0) throw new ArgumentException($"batch and context must be > 0 (got {batch}, {context})");
        long tokens = (long)batch * context, e = ElementBytes(dtype), d = c.DModel;
        var layers = Enumerable.Range(0, c.NLayer).Select(i =>
        {
            bool masked = c.AttentionFor(i) is AttentionKind.Raw or AttentionKind.Differential;
            return tokens * LayerBytesPerToken(c, i, context, dtype) + (masked ? (long)context * context : 0);
        }).ToArray();
        long skips = c.SkipConnections && dtype == TrainingDtype.Bf16 && c.Norm == NormKind.RmsNorm ? tokens * e * d * (c.NLayer / 2) : 0;
        long embedding = tokens * (8 + (c.Dropout > 0 ? e * d : 0));
        return new ActivationMemory
        {
            Tokens = tokens,
            Layers = layers,
            Recompute = c.RecomputeActivations,
            BlockInputs = c.NLayer * tokens * e * d,
            Embedding = embedding + skips,
            FinalNorm = tokens * NormBytesPerToken(c, d, dtype),
        };
    }

    /// <summary>Tokens of the micro-batch (batch x context).</summary>
    public long Tokens { get; init; }
    /// <summary>What each block keeps when it is kept whole, in bytes.</summary>
    public IReadOnlyList<long> Layers { get; init; } = [];
    /// <summary>Whether blocks are recomputed in backward (then each keeps only its input).</summary>
    public bool Recompute { get; init; }
    /// <summary>The blocks' inputs, what recomputation keeps instead of <see cref="Layers"/>: L x tokens x c d.</summary>
    public long BlockInputs { get; init; }
    /// <summary>The embedding's token ids (8 bytes per token), its dropout mask, and U-net skips kept only for their weight.</summary>
    public long Embedding { get; init; }
    /// <summary>The final norm, its input (the last block's output) and output (the head's input) included.</summary>
    public long FinalNorm { get; init; }

    /// <summary>Everything saved at the end of the forward, before the head's logits: the blocks (or their inputs), the embedding, the final norm.</summary>
    public long Total => (Recompute ? BlockInputs : Layers.Sum()) + Embedding + FinalNorm;

    /// <summary>
    /// What backward adds while it goes through a block: the gradients of that block's tensors, as large as the tensors
    /// (the largest block's activations); with recomputation also the block's recomputed activations (twice that).
    /// Measured 0.7 to 1.3 blocks without recomputation, 2.4 with it.
    /// </summary>
    public long BackwardWorkspace => (Recompute ? 2 : 1) * Layers.DefaultIfEmpty(0).Max();
}

using LMHarness.Config;
using static TorchSharp.torch;

namespace LMHarness.Model.Attention;

/// <summary>
/// What an attention layer needs besides x: the absolute position of x's first token (RoPE angle offset) and,
/// when decoding incrementally, the layer's KV cache to read from and append to. For a left-padded batch
/// (<see cref="LeftPadding"/>) also the per-row position ids (B, T), which replace the shared offset, and the
/// per-row attention mask (B, 1, T, T_keys), which replaces the plain causal mask. <see cref="TokenIds"/> (B, T) are
/// the ids of x's tokens, which value embeddings (<see cref="ModelConfig.ValueEmbeddings"/>) look up.
/// </summary>
public sealed record AttentionInput(long Offset, LayerKV? Cache, Tensor? PositionIds, Tensor? Mask, Tensor? TokenIds = null)
{
    /// <summary>An unpadded batch: every row starts at position <paramref name="offset"/>, causal mask only.</summary>
    public AttentionInput(long offset, LayerKV? cache) : this(offset, cache, null, null) { }

    public static readonly AttentionInput Training = new(0, null);
}

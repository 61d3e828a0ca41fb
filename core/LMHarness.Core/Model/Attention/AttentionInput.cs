namespace LMHarness.Model.Attention;

/// <summary>
/// What an attention layer needs besides x: the absolute position of x's first token (RoPE angle offset) and,
/// when decoding incrementally, the layer's KV cache to read from and append to.
/// </summary>
public sealed record AttentionInput(long Offset, LayerKV? Cache)
{
    public static readonly AttentionInput Training = new(0, null);
}

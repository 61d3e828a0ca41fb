using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Tokenizers;

/// <summary>
/// Bits per byte: the model's loss per UTF-8 byte of the text it predicts, a unit that does not depend on the
/// tokenizer (nats per token do: a GPT-2 token holds ~4 bytes of English, a char token 1), so runs with different
/// tokenizers compare in it:
/// <code>  bpb = Σ nats(target) / (ln 2 · Σ bytes(target))  </code>
/// over the scored targets, with bytes(id) = <see cref="ITokenizer.TokenByteLengths"/>. Targets that stand for no
/// text (end of text, special tokens: 0 bytes) are left out of both sums, as nanochat's evaluate_bpb does, so bpb
/// measures the text alone (Gao et al. 2020, The Pile §5, use bits per UTF-8 byte likewise).
/// </summary>
public sealed class TokenBytes(ITokenizer tokenizer)
{
    readonly long[] _lengths = [.. tokenizer.TokenByteLengths.Select(l => (long)l)];

    /// <summary>The UTF-8 byte length of each id (index = id).</summary>
    public IReadOnlyList<long> Lengths => _lengths;

    /// <summary>bpb = <paramref name="nats"/> / (ln 2 · <paramref name="bytes"/>); NaN when no bytes were scored.</summary>
    public static double BitsPerByte(double nats, long bytes) => bytes > 0 ? nats / (Math.Log(2) * bytes) : double.NaN;

    /// <summary>The UTF-8 bytes the ids stand for (their text's length when the ids encode a text).</summary>
    public long Count(IEnumerable<int> ids)
    {
        long sum = 0;
        foreach (var id in ids)
            sum += (uint)id < (uint)_lengths.Length ? _lengths[id]
                : throw new ArgumentOutOfRangeException(nameof(ids), $"id {id} is outside the {tokenizer.Identity.Describe()} vocab [0, {_lengths.Length}).");
        return sum;
    }

    /// <summary>
    /// The byte lengths for the tokenizer an identity (as token files and config.json record it) describes; null when
    /// there is no identity, or when the tokenizer cannot be rebuilt from it (an hf_bpe tokenizer whose folder is gone,
    /// a char table that is not sorted): bits per byte are then not reported (val_bpb stays empty), and training,
    /// which needs only the ids, goes on.
    /// </summary>
    public static TokenBytes? For(JsonNode? identity)
    {
        if (identity is null) return null;
        try { return new TokenBytes(TokenizerFactory.Create(TokenizerIdentity.FromJson(identity.ToJsonString()))); }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException or ArgumentException or NotSupportedException) { return null; }
    }

    /// <summary><see cref="Lengths"/> as an int64 tensor on <paramref name="device"/>, for <see cref="Sums"/>.</summary>
    public Tensor Table(Device device) => tensor(_lengths, device: device);

    /// <summary>
    /// Σ nats and Σ bytes over the targets that stand for text, left on the device (float64 and int64 scalars) so a
    /// caller can pool many batches and read once: <paramref name="nats"/> holds each target's cross-entropy (any
    /// shape, any float dtype), <paramref name="targets"/> the target ids (same shape; negative ids, e.g. an ignore
    /// index, count as no text), <paramref name="table"/> is <see cref="Table"/> on their device.
    /// </summary>
    public static (Tensor Nats, Tensor Bytes) Sums(Tensor nats, Tensor targets, Tensor table)
    {
        if (!nats.shape.SequenceEqual(targets.shape))
            throw new ArgumentException($"nats {string.Join('x', nats.shape)} and targets {string.Join('x', targets.shape)} must have the same shape: one loss per target.");
        using var scope = NewDisposeScope();
        var ids = targets.to(ScalarType.Int64);
        var bytes = table.index_select(0, ids.clamp_min(0).flatten()).view_as(ids).mul(ids.ge(0));
        // masked_fill keeps the shape (masked_select's would depend on the data, which a META-device run cannot know).
        var sumNats = nats.to(ScalarType.Float64).masked_fill(bytes.le(0), 0.0).sum();
        return (sumNats.MoveToOuterDisposeScope(), bytes.sum().MoveToOuterDisposeScope());
    }

    /// <summary><see cref="Sums"/> read back: Σ nats and Σ bytes of one batch of targets.</summary>
    public (double Nats, long Bytes) Sum(Tensor nats, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var (n, b) = Sums(nats, targets, Table(targets.device));
        return (n.item<double>(), b.item<long>());
    }
}

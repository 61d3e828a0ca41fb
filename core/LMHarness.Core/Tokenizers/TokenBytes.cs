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
    /// Σ nats and Σ bytes over the targets that stand for text: <paramref name="nats"/> holds each target's
    /// cross-entropy (any shape, any float dtype), <paramref name="targets"/> the target ids (same shape; negative
    /// ids, e.g. an ignore index, count as no text). Sums are taken in float64 on the tensors' device.
    /// </summary>
    public (double Nats, long Bytes) Sum(Tensor nats, Tensor targets)
    {
        if (!nats.shape.SequenceEqual(targets.shape))
            throw new ArgumentException($"nats {string.Join('x', nats.shape)} and targets {string.Join('x', targets.shape)} must have the same shape: one loss per target.");
        using var scope = NewDisposeScope();
        var table = tensor(_lengths, device: targets.device);
        var ids = targets.to(ScalarType.Int64);
        var bytes = table.index_select(0, ids.clamp_min(0).flatten()).view_as(ids).mul(ids.ge(0));
        var text = bytes.gt(0);
        double sumNats = nats.to(ScalarType.Float64).masked_select(text).sum().item<double>();
        return (sumNats, bytes.sum().item<long>());
    }
}

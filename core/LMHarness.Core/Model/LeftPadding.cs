using TorchSharp;
using LMHarness.Model.Attention;
using static TorchSharp.torch;

namespace LMHarness.Model;

/// <summary>
/// Left padding of a batch of sequences of different lengths: row r's first <see cref="Pads"/>[r] columns are filler,
/// its real tokens follow, so every row ends at the last column (where the next token is read and appended).
/// From the pad counts the model derives the two things padding needs:
/// <list type="bullet">
/// <item>per-row position ids p = column - pad (clamped at 0 on the filler), so each row's first real token is at
/// position 0 for RoPE and learned positions, exactly as when the row runs alone;</item>
/// <item>a per-row key mask: no query ever attends to a filler key. A filler query may see only its own key (it has
/// no real key to its left, and an all-masked softmax row would be NaN, which 0-probability weights would still
/// carry into real rows through 0 * NaN).</item>
/// </list>
/// Pass it to the overloads of <see cref="CausalLM.forward(Tensor, LeftPadding)"/>, <see cref="CausalLM.ForwardLast(Tensor, LeftPadding)"/>
/// and <see cref="CausalLM.ForwardCached(Tensor, KVCache, LeftPadding)"/>; with the KV cache, columns count from the
/// first cached column, so give the same padding on every call.
/// </summary>
public sealed record LeftPadding
{
    private readonly int[] pads;

    public LeftPadding(IReadOnlyList<int> pads)
    {
        if (pads.Count == 0) throw new ArgumentException("left padding needs one pad count per row (got none)");
        for (int r = 0; r < pads.Count; r++)
            if (pads[r] < 0) throw new ArgumentException($"row {r} has a negative pad count ({pads[r]})");
        this.pads = pads.ToArray();
    }

    /// <summary>Filler columns at the start of each row.</summary>
    public IReadOnlyList<int> Pads => pads;

    /// <summary>Equal when the pad counts are (a record would otherwise compare the array by reference).</summary>
    public bool Equals(LeftPadding? other) => other is not null && pads.SequenceEqual(other.pads);

    public override int GetHashCode() => pads.Aggregate(17, (h, p) => h * 31 + p);

    public int Batch => pads.Length;

    /// <summary>True when no row has padding (the model then takes its unpadded path).</summary>
    public bool IsEmpty => pads.All(p => p == 0);

    /// <summary>The padding after dropping the first <paramref name="columns"/> columns (a sliding window).</summary>
    public LeftPadding Drop(long columns) => new(pads.Select(p => (int)Math.Max(0, p - columns)).ToArray());

    /// <summary>Longest row first: right-aligns token rows into one (B, max length) int64 batch. The filler is each
    /// row's own first token, so the filler ids add nothing new to "tokens seen" (repetition penalties).</summary>
    public static (Tensor Ids, LeftPadding Padding) Pack(IReadOnlyList<int[]> rows, Device device)
    {
        if (rows.Count == 0 || rows.Any(r => r.Length == 0))
            throw new ArgumentException("every row needs at least one token to pad");
        int width = rows.Max(r => r.Length);
        var flat = new long[rows.Count * width];
        for (int r = 0; r < rows.Count; r++)
        {
            int pad = width - rows[r].Length;
            for (int c = 0; c < width; c++) flat[r * width + c] = c < pad ? rows[r][0] : rows[r][c - pad];
        }
        return (tensor(flat, [rows.Count, width], device: device), new LeftPadding(rows.Select(r => width - r.Length).ToArray()));
    }

    /// <summary>Position ids (B, length) of columns offset .. offset+length-1: column - pad, 0 on the filler.</summary>
    public Tensor PositionIds(long offset, long length, Device device)
    {
        using var scope = NewDisposeScope();
        using Scalar zero = 0L, start = offset, stop = offset + length; // arange(a, b) would make its Scalars for the finalizer
        var columns = arange(start, stop, Scalars.One, dtype: ScalarType.Int64, device: device).unsqueeze(0);
        return (columns - PadTensor(device)).clamp_min(zero).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// (B, 1, tq, tk) bool, true = may attend: the causal mask of tq queries that are the last tq of tk columns,
    /// restricted to real keys, plus each query's own key (only a filler query needs it).
    /// </summary>
    public Tensor AttentionMask(long tq, long tk, Device device)
    {
        using var scope = NewDisposeScope();
        var causal = CausalMask.Allowed(tq, tk, device);
        var own = causal.triu(tk - tq);
        using Scalar zero = 0L, keys = tk;
        var realKey = arange(zero, keys, Scalars.One, dtype: ScalarType.Int64, device: device).unsqueeze(0) >= PadTensor(device);
        var mask = causal & (realKey.view(pads.Length, 1, 1, tk) | own);
        return mask.MoveToOuterDisposeScope();
    }

    /// <summary>Throws unless this padding fits a batch of <paramref name="batch"/> rows of <paramref name="columns"/> columns.</summary>
    internal void Check(long batch, long columns)
    {
        if (batch != pads.Length)
            throw new ArgumentException($"left padding has {pads.Length} rows but the batch has {batch}");
        for (int r = 0; r < pads.Length; r++)
            if (pads[r] >= columns)
                throw new ArgumentException($"row {r} is all padding ({pads[r]} pads in {columns} columns): every row needs a real token");
    }

    private Tensor PadTensor(Device device) => tensor(pads.Select(p => (long)p).ToArray(), [pads.Length, 1], device: device);
}

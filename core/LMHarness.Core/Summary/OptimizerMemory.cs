using LMHarness.Config;

namespace LMHarness.Summary;

/// <summary>
/// What an optimizer keeps (its state, fp32, for the whole run) and what its update makes for a moment (the largest
/// tensor's temporaries; they are freed tensor by tensor), in bytes, for N parameters of which N_h are the hidden 2-D
/// matrices (attention and MLP weights) and the largest tensor has n_max elements (usually the embedding, V x d):
/// <list type="bullet">
/// <item>AdamW: m and v, 8 N; the update's sqrt(v) and its bias-corrected quotient, 2 x 4 n_max.</item>
/// <item>AdEMAMix: the fast and slow EMAs and v, 12 N; the update keeps six n_max temporaries, 6 x 4 n_max.</item>
/// <item>Muon: one momentum per hidden matrix, 4 N_h, and AdamW's 8 (N - N_h) for the rest; the update is the larger of
/// AdamW's for the rest and Newton-Schulz's for the largest hidden matrix (r x c, s = min(r, c)): the Nesterov update,
/// X / ||X||, three r x c products in each of the 5 iterations and the final contiguous copy of a tall one, with five
/// s x s products per iteration: 4 ((17 + [r > c]) r c + 25 s²).</item>
/// </list>
/// </summary>
public sealed record OptimizerMemory(OptimizerKind Kind, long StateBytes, long UpdateBytes, string StateFormula, string UpdateFormula)
{
    /// <summary>The memory of <paramref name="kind"/> over <paramref name="config"/>'s parameters.</summary>
    public static OptimizerMemory For(ModelConfig config, OptimizerKind kind)
    {
        var c = config.Validated();
        long n = ModelSummary.Of(c).TotalParameters;
        var hidden = HiddenMatrices(c).ToList();
        long nHidden = hidden.Sum(m => m.Rows * m.Cols);
        long largest = Math.Max(LargestOther(c), hidden.Max(m => m.Rows * m.Cols));
        return kind switch
        {
            OptimizerKind.AdEMAMix => new(kind, 12 * n, 6 * 4 * largest, "fast, slow and v: 12 B x N", $"6 x 4 B x {MemoryPlan.Count(largest)} (the largest tensor)"),
            OptimizerKind.Muon => Muon(n, nHidden, LargestOther(c), hidden),
            _ => new(kind, 8 * n, 2 * 4 * largest, "m and v: 8 B x N", $"2 x 4 B x {MemoryPlan.Count(largest)} (the largest tensor)"),
        };
    }

    static OptimizerMemory Muon(long n, long nHidden, long largestOther, List<(long Rows, long Cols)> hidden)
    {
        static long NewtonSchulz((long Rows, long Cols) m)
        {
            long s = Math.Min(m.Rows, m.Cols);
            return 4 * ((17 + (m.Rows > m.Cols ? 1 : 0)) * m.Rows * m.Cols + 25 * s * s);
        }
        var widest = hidden.MaxBy(NewtonSchulz);
        long ns = NewtonSchulz(widest), adam = 2 * 4 * largestOther;
        return new(OptimizerKind.Muon, 4 * nHidden + 8 * (n - nHidden), Math.Max(ns, adam),
            $"momentum 4 B x {MemoryPlan.Count(nHidden)} hidden + AdamW 8 B x {MemoryPlan.Count(n - nHidden)}",
            ns >= adam ? $"Newton-Schulz on {widest.Rows} x {widest.Cols}" : $"AdamW's 2 x 4 B x {MemoryPlan.Count(largestOther)}");
    }

    /// <summary>The 2-D weights inside the blocks, (out, in) as nn.Linear stores them: what Muon orthogonalises.</summary>
    static IEnumerable<(long Rows, long Cols)> HiddenMatrices(ModelConfig c)
    {
        long d = c.DModel, f = c.FfnHidden;
        for (int i = 0; i < c.NLayer; i++)
        {
            long kv = (c.AttentionFor(i) == AttentionKind.Gqa ? c.NKvHead : c.NHead) * (long)c.HeadDim;
            yield return (d, d); // q_proj
            yield return (kv, d); // k_proj
            yield return (kv, d); // v_proj
            yield return (d, d); // o_proj
            if (c.FeedForwardFor(i) == FeedForwardKind.SwiGlu) yield return (f, d); // gate_proj
            yield return (f, d); // up_proj
            yield return (d, f); // down_proj
        }
    }

    /// <summary>Elements of the largest tensor that is not a hidden matrix: the token embedding (or the untied head, the
    /// same size), a value embedding, the position table.</summary>
    static long LargestOther(ModelConfig c)
    {
        long v = c.VocabSize, d = c.DModel;
        long valueEmbedding = c.ValueEmbeddings ? Enumerable.Range(0, c.NLayer).Max(i => ModelSummary.ValueEmbeddingParameters(c, i)) : 0;
        long positions = c.Position == PositionKind.Learned ? (long)c.ContextLength * d : 0;
        return Math.Max(v * d, Math.Max(valueEmbedding, positions));
    }
}

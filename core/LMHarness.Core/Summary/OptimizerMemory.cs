using LMHarness.Config;
using LMHarness.Model;

namespace LMHarness.Summary;

/// <summary>
/// What an optimizer keeps (its state, fp32, for the whole run) and what its update makes for a moment (the largest
/// tensor's temporaries; they are freed tensor by tensor), in bytes, for the N parameters that train (a frozen one has
/// neither), of which N_h are the hidden 2-D matrices (attention and MLP weights) and the largest tensor has n_max
/// elements (usually the embedding, V x d):
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
    /// <summary>The memory of <paramref name="kind"/> over the parameters of <paramref name="config"/> that train under
    /// <paramref name="freeze"/> (all of them when null): a frozen parameter has no state and no update.</summary>
    public static OptimizerMemory For(ModelConfig config, OptimizerKind kind, IReadOnlyList<string>? freeze = null)
    {
        var trainable = ParameterShapes.Trainable(config, freeze).ToList();
        long n = trainable.Sum(p => p.Elements);
        var hidden = trainable.Where(p => MupScaling.IsHidden(p.Name)).Select(p => (Rows: p.Shape[0], Cols: p.Shape[1])).ToList();
        long nHidden = hidden.Sum(m => m.Rows * m.Cols);
        long largestOther = trainable.Where(p => !MupScaling.IsHidden(p.Name)).Select(p => p.Elements).DefaultIfEmpty(0).Max();
        long largest = Math.Max(largestOther, hidden.Select(m => m.Rows * m.Cols).DefaultIfEmpty(0).Max());
        var N = freeze is { Count: > 0 } ? $"{MemoryPlan.Count(n)} trained" : "N";
        return kind switch
        {
            OptimizerKind.AdEMAMix => new(kind, 12 * n, 6 * 4 * largest, $"fast, slow and v: 12 B x {N}", $"6 x 4 B x {MemoryPlan.Count(largest)} (the largest tensor that trains)"),
            OptimizerKind.Muon => Muon(n, nHidden, largestOther, hidden),
            _ => new(kind, 8 * n, 2 * 4 * largest, $"m and v: 8 B x {N}", $"2 x 4 B x {MemoryPlan.Count(largest)} (the largest tensor that trains)"),
        };
    }

    static OptimizerMemory Muon(long n, long nHidden, long largestOther, List<(long Rows, long Cols)> hidden)
    {
        static long NewtonSchulz((long Rows, long Cols) m)
        {
            long s = Math.Min(m.Rows, m.Cols);
            return 4 * ((17 + (m.Rows > m.Cols ? 1 : 0)) * m.Rows * m.Cols + 25 * s * s);
        }
        var widest = hidden.Count > 0 ? hidden.MaxBy(NewtonSchulz) : (0, 0);
        long ns = NewtonSchulz(widest), adam = 2 * 4 * largestOther;
        return new(OptimizerKind.Muon, 4 * nHidden + 8 * (n - nHidden), Math.Max(ns, adam),
            $"momentum 4 B x {MemoryPlan.Count(nHidden)} hidden + AdamW 8 B x {MemoryPlan.Count(n - nHidden)}",
            ns >= adam ? $"Newton-Schulz on {widest.Rows} x {widest.Cols}" : $"AdamW's 2 x 4 B x {MemoryPlan.Count(largestOther)}");
    }
}

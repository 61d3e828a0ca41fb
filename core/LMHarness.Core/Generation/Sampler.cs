using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Generation;

/// <summary>
/// Turns next-token logits (B, V) into token ids (B) under <see cref="SamplingOptions"/>:
/// repetition penalty on seen tokens (CTRL, Keskar et al. 2019: l / r if l &gt; 0 else l * r), temperature
/// (l / T), top-k, top-p (nucleus: the smallest set of most probable tokens with cumulative probability &gt;= p,
/// Holtzman et al. 2020), min-p (drop p_i &lt; min_p * max_j p_j, Nguyen et al. 2024), then a draw from
/// softmax of what is left (or argmax when T = 0). Draws use the sampler's own CPU <see cref="torch.Generator"/>
/// seeded from <see cref="SamplingOptions.Seed"/>, so sampling is reproducible across devices and never
/// moves the process-global RNG that training relies on.
/// </summary>
public sealed class Sampler : IDisposable
{
    readonly torch.Generator generator;

    public SamplingOptions Options { get; }

    public Sampler(SamplingOptions options)
    {
        Options = options.Validated();
        generator = options.Seed is { } seed ? new torch.Generator((ulong)seed, torch.CPU) : new torch.Generator((ulong)Random.Shared.NextInt64(), torch.CPU);
    }

    /// <summary>
    /// The logits after every filter: removed tokens are -inf. <paramref name="seen"/> is a (B, V) bool mask of
    /// tokens already in each row's context (for the repetition penalty); pass an all-false mask to switch it off.
    /// </summary>
    public Tensor Filter(Tensor logits, Tensor seen)
    {
        using var scope = torch.NewDisposeScope();
        var l = logits.to(ScalarType.Float32);
        var o = Options;
        // Every number as a Scalar disposed here: an implicit double -> Scalar is freed only by the finalizer, and
        // this runs once per generated token.
        using Scalar zero = 0, penalty = o.RepetitionPenalty, temperature = o.Temperature, topP = o.TopP, minP = o.MinP;
        var removed = Model.Scalars.NegativeInfinity;
        if (o.RepetitionPenalty != 1.0)
            l = torch.where(seen, torch.where(l.gt(zero), l.div(penalty), l.mul(penalty)), l);
        if (o.Temperature == 0)
        {
            // Greedy: only the argmax survives (ties resolved to the lowest id, as argmax does).
            var keep = torch.zeros_like(l, dtype: ScalarType.Bool).scatter_(-1, l.argmax(-1, keepdim: true), torch.ones_like(l, dtype: ScalarType.Bool));
            return l.masked_fill(keep.logical_not(), removed).MoveToOuterDisposeScope();
        }
        if (o.Temperature != 1.0) l = l.div(temperature);
        if (o.TopK > 0 && o.TopK < l.shape[^1])
        {
            var kth = l.topk(o.TopK, dim: -1).values[.., ^1..];
            l = l.masked_fill(l < kth, removed);
        }
        if (o.TopP < 1.0)
        {
            var (sorted, order) = l.sort(dim: -1, descending: true);
            var p = sorted.softmax(-1);
            // Drop a token when the tokens ranked above it already hold >= top_p of the mass; the first always stays.
            var dropSorted = (p.cumsum(-1) - p).ge(topP);
            var drop = torch.zeros_like(dropSorted).scatter_(-1, order, dropSorted);
            l = l.masked_fill(drop, removed);
        }
        if (o.MinP > 0)
        {
            var p = l.softmax(-1);
            var floor = p.amax([-1], keepdim: true).mul(minP);
            l = l.masked_fill(p < floor, removed);
        }
        return l.MoveToOuterDisposeScope();
    }

    /// <summary>The logits after every filter, without a repetition history.</summary>
    public Tensor Filter(Tensor logits)
    {
        using var seen = torch.zeros_like(logits, dtype: ScalarType.Bool);
        return Filter(logits, seen);
    }

    /// <summary>The distribution the next token is drawn from: softmax of <see cref="Filter(Tensor, Tensor)"/>.</summary>
    public Tensor Probabilities(Tensor logits, Tensor seen)
    {
        using var scope = torch.NewDisposeScope();
        return Filter(logits, seen).softmax(-1).MoveToOuterDisposeScope();
    }

    /// <summary>The distribution the next token is drawn from, without a repetition history.</summary>
    public Tensor Probabilities(Tensor logits)
    {
        using var seen = torch.zeros_like(logits, dtype: ScalarType.Bool);
        return Probabilities(logits, seen);
    }

    /// <summary>Draws one token per row: (B, V) logits -> (B) int64 ids on the logits' device.</summary>
    public Tensor Next(Tensor logits, Tensor seen)
    {
        using var scope = torch.NewDisposeScope();
        // Plain greedy needs no filtering: one argmax (this is the hot path of cached decoding).
        if (Options.Temperature == 0 && Options.RepetitionPenalty == 1.0) return logits.argmax(-1).MoveToOuterDisposeScope();
        var filtered = Filter(logits, seen);
        if (Options.Temperature == 0) return filtered.argmax(-1).MoveToOuterDisposeScope();
        var p = filtered.softmax(-1).cpu();
        return torch.multinomial(p, 1, replacement: false, generator: generator).squeeze(-1).to(logits.device).MoveToOuterDisposeScope();
    }

    /// <summary>Draws one token per row without a repetition history.</summary>
    public Tensor Next(Tensor logits)
    {
        using var seen = torch.zeros_like(logits, dtype: ScalarType.Bool);
        return Next(logits, seen);
    }

    public void Dispose() => generator.Dispose();
}

namespace LMHarness.Reports;

/// <summary>
/// n, mean, sample standard deviation s = √(Σ(x - x̄)² / (n - 1)) and the 95 % t-interval of the mean,
/// x̄ ± t(0.975, n - 1) · s / √n, of one group of values (one variant's seeds). With one value there is no spread
/// to estimate: <see cref="Std"/> and the interval are null rather than zero or infinite.
/// </summary>
public sealed record SampleStats(int N, double Mean, double? Std, double? CiLow, double? CiHigh)
{
    /// <summary>The confidence level of every interval in the reports.</summary>
    public const double Confidence = 0.95;

    /// <summary>Half the interval's width, t(0.975, n - 1) · s / √n; null with one value.</summary>
    public double? HalfWidth => CiHigh is double h ? h - Mean : null;

    /// <summary>Statistics of <paramref name="values"/>; throws on an empty or non-finite sample, naming the problem.</summary>
    public static SampleStats Of(IEnumerable<double> values)
    {
        var v = values.ToList();
        if (v.Count == 0) throw new ArgumentException("no values: statistics need at least one seed's result.", nameof(values));
        if (v.Any(x => !double.IsFinite(x))) throw new ArgumentException($"values must be finite (got {string.Join(", ", v)}): a diverged run has no final loss to average.", nameof(values));
        double mean = v.Average();
        if (v.Count == 1) return new SampleStats(1, mean, null, null, null);
        double std = Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Count - 1));
        double half = StudentT.Quantile(0.5 + Confidence / 2, v.Count - 1) * std / Math.Sqrt(v.Count);
        return new SampleStats(v.Count, mean, std, mean - half, mean + half);
    }

    /// <summary>Pooled standard deviation √(((n₁-1)s₁² + (n₂-1)s₂²) / (n₁+n₂-2)); null unless both have n ≥ 2.</summary>
    public static double? PooledStd(SampleStats a, SampleStats b) =>
        a.Std is double sa && b.Std is double sb
            ? Math.Sqrt(((a.N - 1) * sa * sa + (b.N - 1) * sb * sb) / (a.N + b.N - 2))
            : null;
}

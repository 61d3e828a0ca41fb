namespace LMHarness.Reports;

/// <summary>
/// The difference of two means with its 95 % interval and Welch's two-sided t-test (Welch 1947), which does not
/// assume equal variances: d = x̄₁ - x̄₂, se = √(s₁²/n₁ + s₂²/n₂), t = d / se, degrees of freedom by
/// Welch–Satterthwaite ν = se⁴ / ((s₁²/n₁)²/(n₁-1) + (s₂²/n₂)²/(n₂-1)), interval d ± t(0.975, ν) · se,
/// p = 2 P(T_ν &gt; |t|).
/// </summary>
public sealed record WelchTest(double Difference, double StandardError, double Df, double T, double P, double CiLow, double CiHigh)
{
    /// <summary>Whether the 95 % interval of the difference excludes zero (equivalently p &lt; 0.05).</summary>
    public bool Resolved => CiLow > 0 || CiHigh < 0;

    /// <summary>
    /// <paramref name="a"/> minus <paramref name="b"/>; null when either has fewer than two values (no spread to
    /// estimate) or both have zero spread (identical seeds: the t statistic is undefined).
    /// </summary>
    public static WelchTest? Of(SampleStats a, SampleStats b)
    {
        if (a.Std is not double sa || b.Std is not double sb) return null;
        double va = sa * sa / a.N, vb = sb * sb / b.N;
        double se = Math.Sqrt(va + vb);
        if (!(se > 0)) return null;
        double df = (va + vb) * (va + vb) / (va * va / (a.N - 1) + vb * vb / (b.N - 1));
        double d = a.Mean - b.Mean;
        double t = d / se;
        double half = StudentT.Quantile(0.5 + SampleStats.Confidence / 2, df) * se;
        return new WelchTest(d, se, df, t, Math.Min(1, 2 * StudentT.UpperTail(Math.Abs(t), df)), d - half, d + half);
    }
}

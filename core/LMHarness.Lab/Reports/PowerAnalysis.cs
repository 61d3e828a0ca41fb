using MathNet.Numerics.Distributions;

namespace LMHarness.Reports;

/// <summary>
/// How many seeds per variant a two-sample t-test needs to resolve a gap: the power of the two-sided test with
/// n runs per group, equal standard deviation σ and true difference Δ is exactly (Cohen 1988, ch. 2)
/// <code>
///   power = P(|T'| &gt; t(1-α/2, ν)),  T' = (Z + δ) / √(V/ν),  Z ~ N(0,1), V ~ χ²(ν),
///   ν = 2n - 2,  δ = (Δ/σ) √(n/2)              (T' is noncentral t)
///         = ∫ f_χ²(v; ν) [Φ(δ - t_c √(v/ν)) + Φ(-δ - t_c √(v/ν))] dv,
/// </code>
/// integrated here by Simpson's rule over the χ² density (MathNet.Numerics' ChiSquared.PDF and Normal.CDF).
/// <see cref="SeedsPerVariant"/> is the smallest n with
/// power ≥ the target; it reproduces Cohen's table 2.4.1 and R's power.t.test (Δ/σ = 0.5 → 64, 1 → 17).
/// Used with the observed gap and pooled standard deviation, it answers "how many seeds would a real gap of
/// this size need?": an estimate, since both are themselves noisy from few seeds.
/// </summary>
public static class PowerAnalysis
{
    /// <summary>The conventional targets: two-sided α = 0.05, power 0.8.</summary>
    public const double Alpha = 0.05, TargetPower = 0.8;

    /// <summary>Above this many seeds per variant the estimate is reported as "more than".</summary>
    public const int MaxSeeds = 1_000_000;

    /// <summary>Power of the two-sided two-sample t-test with <paramref name="n"/> per group at effect size Δ/σ.</summary>
    public static double Power(int n, double effectSize, double alpha = Alpha)
    {
        if (n < 2) throw new ArgumentOutOfRangeException(nameof(n), $"a two-sample t-test needs n >= 2 per group (got {n}).");
        if (!(alpha > 0 && alpha < 1)) throw new ArgumentOutOfRangeException(nameof(alpha), $"alpha must be in (0, 1) (got {alpha}).");
        double df = 2.0 * n - 2, delta = Math.Abs(effectSize) * Math.Sqrt(n / 2.0);
        double tc = StudentT.Quantile(1 - alpha / 2, df);
        double Integrand(double v)
        {
            double density = v > 0 ? ChiSquared.PDF(df, v) : df == 2 ? 0.5 : 0;
            double c = tc * Math.Sqrt(v / df);
            return density * (Normal.CDF(0, 1, delta - c) + Normal.CDF(0, 1, -delta - c));
        }
        // The χ²(ν) mass lies within ν ± 20√(2ν) (+20 for small ν's long right tail) to far below 1e-8.
        double sd = Math.Sqrt(2 * df), lo = Math.Max(0, df - 20 * sd), hi = df + 20 * sd + 20;
        const int panels = 2000;
        double h = (hi - lo) / panels, sum = Integrand(lo) + Integrand(hi);
        for (int i = 1; i < panels; i++) sum += (i % 2 == 1 ? 4 : 2) * Integrand(lo + i * h);
        return Math.Clamp(sum * h / 3, 0, 1);
    }

    /// <summary>
    /// The smallest n (≥ 2) per variant at which the test resolves a true gap <paramref name="gap"/> with
    /// power <paramref name="power"/>, when seeds scatter with standard deviation <paramref name="std"/>.
    /// Null when there is no gap or no spread to reason from, or when it would take more than <see cref="MaxSeeds"/>.
    /// </summary>
    public static int? SeedsPerVariant(double gap, double std, double alpha = Alpha, double power = TargetPower)
    {
        if (!(power > 0 && power < 1)) throw new ArgumentOutOfRangeException(nameof(power), $"power must be in (0, 1) (got {power}).");
        if (!double.IsFinite(gap) || !double.IsFinite(std) || gap == 0 || !(std > 0)) return null;
        double effect = Math.Abs(gap) / std;
        if (Power(2, effect, alpha) >= power) return 2;
        int lo = 2, hi = 4; // Power(lo) < power <= Power(hi)
        while (Power(hi, effect, alpha) < power)
        {
            if (hi >= MaxSeeds) return null;
            lo = hi;
            hi = Math.Min(MaxSeeds, hi * 2);
        }
        while (hi - lo > 1)
        {
            int mid = (lo + hi) / 2;
            if (Power(mid, effect, alpha) >= power) hi = mid; else lo = mid;
        }
        return hi;
    }
}

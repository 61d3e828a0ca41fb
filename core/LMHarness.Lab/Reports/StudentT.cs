namespace LMHarness.Reports;

/// <summary>
/// Student's t distribution with ν degrees of freedom (ν real and &gt; 0, so Welch's fractional ν works):
/// <see cref="Cdf"/> F(t; ν) and its inverse <see cref="Quantile"/>. Through the regularised incomplete beta
/// function (Abramowitz &amp; Stegun 26.7.1), MathNet.Numerics' <c>SpecialFunctions.BetaRegularized</c>:
/// P(T &gt; |t|) = ½ I_x(ν/2, ½) with x = ν / (ν + t²).
/// </summary>
public static class StudentT
{
    /// <summary>F(t; ν) = P(T ≤ t).</summary>
    public static double Cdf(double t, double df)
    {
        CheckDf(df);
        if (double.IsNaN(t)) return double.NaN;
        if (double.IsInfinity(t)) return t > 0 ? 1 : 0;
        double tail = UpperTail(Math.Abs(t), df);
        return t >= 0 ? 1 - tail : tail;
    }

    /// <summary>P(T &gt; t) for t ≥ 0 without the cancellation of 1 - F(t): ½ I_x(ν/2, ½), x = ν/(ν+t²).</summary>
    public static double UpperTail(double t, double df)
    {
        CheckDf(df);
        if (t < 0) throw new ArgumentOutOfRangeException(nameof(t), $"UpperTail takes t >= 0 (got {t}); use Cdf for negative t.");
        if (double.IsPositiveInfinity(t)) return 0;
        return 0.5 * MathNet.Numerics.SpecialFunctions.BetaRegularized(df / 2, 0.5, df / (df + t * t));
    }

    /// <summary>
    /// The t with F(t; ν) = <paramref name="p"/>, e.g. Quantile(0.975, 2) = 4.303 (the 95 % two-sided critical value).
    /// By symmetry it solves the upper tail ½ I_x(ν/2, ½) = 1 - p for t ≥ 0 by bisection (the tail is monotone in t),
    /// to full double precision.
    /// </summary>
    public static double Quantile(double p, double df)
    {
        CheckDf(df);
        if (!(p > 0 && p < 1)) throw new ArgumentOutOfRangeException(nameof(p), $"a t quantile needs 0 < p < 1 (got {p}).");
        if (p == 0.5) return 0;
        double q = p > 0.5 ? 1 - p : p; // the upper tail probability of |t|
        double lo = 0, hi = 1;
        while (UpperTail(hi, df) > q) { lo = hi; hi *= 2; }
        for (int i = 0; i < 200 && hi - lo > 1e-15 * hi; i++)
        {
            double mid = 0.5 * (lo + hi);
            if (UpperTail(mid, df) > q) lo = mid; else hi = mid;
        }
        double t = 0.5 * (lo + hi);
        return p > 0.5 ? t : -t;
    }

    static void CheckDf(double df)
    {
        if (!(df > 0) || double.IsInfinity(df))
            throw new ArgumentOutOfRangeException(nameof(df), $"Student's t needs finite degrees of freedom > 0 (got {df}): a sample of n values has n - 1.");
    }
}

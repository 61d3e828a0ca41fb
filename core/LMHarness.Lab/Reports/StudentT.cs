namespace LMHarness.Reports;

/// <summary>
/// Student's t distribution with ν degrees of freedom (ν real and &gt; 0, so Welch's fractional ν works):
/// <see cref="Cdf"/> F(t; ν) and its inverse <see cref="Quantile"/>. Through the regularised incomplete beta
/// function (Abramowitz &amp; Stegun 26.7.1; Numerical Recipes 3rd ed. §6.4 and §6.14):
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

    /// <summary>P(T &gt; t) for t ≥ 0 without the cancellation of 1 - F(t): ½ I_x(ν/2, ½), x = ν/(ν+t²), 1-x = t²/(ν+t²).</summary>
    public static double UpperTail(double t, double df)
    {
        CheckDf(df);
        if (t < 0) throw new ArgumentOutOfRangeException(nameof(t), $"UpperTail takes t >= 0 (got {t}); use Cdf for negative t.");
        if (double.IsPositiveInfinity(t)) return 0;
        double t2 = t * t;
        return 0.5 * SpecialFunctions.RegularizedIncompleteBeta(df / 2, 0.5, df / (df + t2), t2 / (df + t2));
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

/// <summary>The special functions behind <see cref="StudentT"/> and <see cref="PowerAnalysis"/>.</summary>
static class SpecialFunctions
{
    // Lanczos (1964) approximation, g = 7, 9 terms: |relative error| < 1e-15 for x > 0.
    static readonly double[] Lanczos =
    [
        0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
        12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
    ];

    /// <summary>ln Γ(x) for x &gt; 0 (Lanczos; reflection Γ(x)Γ(1-x) = π / sin(πx) below ½).</summary>
    public static double LogGamma(double x)
    {
        if (!(x > 0)) throw new ArgumentOutOfRangeException(nameof(x), $"ln Γ is taken here only for x > 0 (got {x}).");
        if (x < 0.5) return Math.Log(Math.PI / Math.Sin(Math.PI * x)) - LogGamma(1 - x);
        x -= 1;
        double sum = Lanczos[0];
        for (int i = 1; i < Lanczos.Length; i++) sum += Lanczos[i] / (x + i);
        double t = x + 7.5;
        return 0.5 * Math.Log(2 * Math.PI) + (x + 0.5) * Math.Log(t) - t + Math.Log(sum);
    }

    /// <summary>
    /// I_x(a, b), the regularised incomplete beta function, given x and y = 1 - x separately (so callers keep the
    /// precision of a small 1 - x). Numerical Recipes' betai: the continued fraction converges fast for
    /// x &lt; (a+1)/(a+b+2); otherwise I_x(a, b) = 1 - I_{1-x}(b, a).
    /// </summary>
    public static double RegularizedIncompleteBeta(double a, double b, double x, double y)
    {
        if (x <= 0) return 0;
        if (y <= 0) return 1;
        double front = Math.Exp(LogGamma(a + b) - LogGamma(a) - LogGamma(b) + a * Math.Log(x) + b * Math.Log(y));
        return x < (a + 1) / (a + b + 2)
            ? front * BetaContinuedFraction(a, b, x, y) / a
            : 1 - front * BetaContinuedFraction(b, a, y, x) / b;
    }

    // The continued fraction of I_x(a, b) by the modified Lentz method (Numerical Recipes betacf).
    static double BetaContinuedFraction(double a, double b, double x, double y)
    {
        const double tiny = 1e-300, eps = 1e-16;
        double qab = a + b, qap = a + 1, qam = a - 1;
        double c = 1, d = 1 - qab * x / qap;
        if (Math.Abs(d) < tiny) d = tiny;
        d = 1 / d;
        double h = d;
        for (int m = 1; m <= 100_000; m++)
        {
            int m2 = 2 * m;
            double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
            d = 1 + aa * d; if (Math.Abs(d) < tiny) d = tiny;
            c = 1 + aa / c; if (Math.Abs(c) < tiny) c = tiny;
            d = 1 / d;
            h *= d * c;
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
            d = 1 + aa * d; if (Math.Abs(d) < tiny) d = tiny;
            c = 1 + aa / c; if (Math.Abs(c) < tiny) c = tiny;
            d = 1 / d;
            double del = d * c;
            h *= del;
            if (Math.Abs(del - 1) < eps) return h;
        }
        throw new ArithmeticException($"incomplete beta I_{x}({a}, {b}) did not converge (y = {y}); a or b is too large for the continued fraction.");
    }

    /// <summary>
    /// Φ(z), the standard normal CDF, = ½ erfc(-z/√2). erfc by Numerical Recipes' Chebyshev fit (erfcc), relative
    /// error below 1.2e-7 everywhere: ample for power calculations.
    /// </summary>
    public static double NormalCdf(double z)
    {
        double x = -z / Math.Sqrt(2);
        double ax = Math.Abs(x);
        double t = 1 / (1 + 0.5 * ax);
        double erfc = t * Math.Exp(-ax * ax - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
            + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return 0.5 * (x >= 0 ? erfc : 2 - erfc);
    }
}

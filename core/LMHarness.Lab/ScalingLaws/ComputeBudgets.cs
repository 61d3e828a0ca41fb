using System.Globalization;
using System.Text;

namespace LMHarness.ScalingLaws;

/// <summary>
/// "At compute C, what N and D?" answered from a fit: the closed-form optimum under C = 6 N D
/// (<see cref="ChinchillaLaw.ComputeOptimalSixND"/>; at large N the harness's attention term 12 L d T is a few percent
/// of 6 N and the closed form is what Chinchilla's tables use), with percentile bootstrap intervals over the fit's
/// resamples. Past the runs' compute this is an extrapolation of the law, and the table says so.
/// </summary>
public static class ComputeBudgets
{
    /// <summary>One-GPU-day budget: an H100's dense bf16 peak (989 TFLOP/s) at 40 % MFU for 24 h, ≈ 3.4e19 FLOPs.</summary>
    public const double OneH100Day = 989e12 * 0.40 * 86400;

    /// <summary>N* and D* at <paramref name="compute"/> with their intervals.</summary>
    public static (Interval Parameters, Interval Tokens) Optimum(ChinchillaFit fit, double compute) =>
        (fit.IntervalOf(l => l.ComputeOptimalSixND(compute).Parameters), fit.IntervalOf(l => l.ComputeOptimalSixND(compute).Tokens));

    /// <summary>A markdown table: budget, what it is, N*, D* (95 % intervals), tokens per parameter, the fold of extrapolation past <paramref name="largestRun"/>.</summary>
    public static string Table(ChinchillaFit fit, IEnumerable<(double Compute, string What)> budgets, double largestRun)
    {
        var sb = new StringBuilder("| compute C (FLOPs) | what | N* [95 %] | D* (tokens) [95 %] | D*/N* | past the largest run |\n|---|---|---|---|---|---|\n");
        foreach (var (c, what) in budgets)
        {
            var (n, d) = Optimum(fit, c);
            sb.Append(CultureInfo.InvariantCulture,
                $"| {c:0.0e+0} | {what} | {S(n.Estimate)} [{S(n.Low)}, {S(n.High)}] | {S(d.Estimate)} [{S(d.Low)}, {S(d.High)}] | {d.Estimate / n.Estimate:0.#} | {c / largestRun:0.#}x |\n");
        }
        return sb.ToString();
    }

    /// <summary>1.23e7 -> "12.3M": counts that stay readable.</summary>
    public static string S(double v) => Math.Abs(v) switch
    {
        >= 1e12 => (v / 1e12).ToString("0.##", CultureInfo.InvariantCulture) + "T",
        >= 1e9 => (v / 1e9).ToString("0.##", CultureInfo.InvariantCulture) + "B",
        >= 1e6 => (v / 1e6).ToString("0.##", CultureInfo.InvariantCulture) + "M",
        >= 1e3 => (v / 1e3).ToString("0.##", CultureInfo.InvariantCulture) + "k",
        _ => v.ToString("0.##", CultureInfo.InvariantCulture),
    };
}

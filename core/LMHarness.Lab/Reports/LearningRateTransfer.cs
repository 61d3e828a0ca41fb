using System.Globalization;
using System.Text;

namespace LMHarness.Reports;

/// <summary>
/// One width's optimum on a learning-rate grid: the best rate (lowest mean final validation loss over seeds) and the
/// rates not told apart from it by the seeds. <see cref="Noise"/> is the pooled within-rate standard deviation of the
/// seeds' losses, <see cref="NoiseDf"/> its degrees of freedom; NaN (and <see cref="WithinNoise"/> = the best alone)
/// when no rate has two seeds.
/// </summary>
public sealed record BestRate(int Width, double Rate, double MeanLoss, IReadOnlyList<double> WithinNoise, double Noise, int NoiseDf)
{
    /// <summary>The lowest and highest rate within noise of the best: the interval on the optimum.</summary>
    public double Low => WithinNoise.Min();
    /// <summary>See <see cref="Low"/>.</summary>
    public double High => WithinNoise.Max();
}

/// <summary>The widest model trained at the narrowest model's best rate, against the widest model's own best.</summary>
public sealed record TransferredRate(double Rate, double Loss, double BestLoss, double Threshold)
{
    /// <summary>How much worse the transferred rate is than the widest's own best (≥ 0 unless the rates coincide).</summary>
    public double Gap => Loss - BestLoss;
    /// <summary>Whether the gap is inside the seeds' 95 % noise on a difference of means (always false with NaN noise).</summary>
    public bool WithinNoise => Gap <= Threshold;
}

/// <summary>
/// Learning-rate transfer across width (Tensor Programs V, Yang et al. 2022, figure 1): given each width's sweep, where
/// is each width's optimum and how far does it move from the narrowest to the widest. A rate is "within seed noise" of
/// the best when its mean loss exceeds the best's by at most the 95 % half-width of a difference of two means with
/// the pooled seed variance (the pooled two-sample t-test):
/// <code>  mean(η) - mean(η*) ≤ t(0.975, df) · s_p · √(1/n_η + 1/n_η*),   s_p² = Σ_η (n_η - 1) s_η² / df,  df = Σ_η (n_η - 1)  </code>
/// pooled over every rate of that width whose seeds all finished, since two seeds alone give a useless interval
/// (t(0.975, 1) = 12.7); a diverged rate is never within noise. The drift is counted in grid steps, log_f(η*_wide / η*_narrow).
/// </summary>
public static class LearningRateTransfer
{
    /// <summary>The best rate of one width's sweep points (one variant's) and the rates within seed noise of it.</summary>
    public static BestRate Best(int width, IReadOnlyList<SweepPoint> points)
    {
        var finite = points.Where(p => p.Finite).ToList();
        if (finite.Count == 0)
            throw new ArgumentException($"width {width}: every rate tried ({string.Join(", ", points.Select(p => Rate(p.LearningRate)))}) diverged: no best rate.");
        var best = finite.MinBy(p => p.Mean)!;
        var (noise, df) = Pooled(finite);
        var within = double.IsNaN(noise) ? [best.LearningRate]
            : finite.Where(p => p.Mean - best.Mean <= Threshold(noise, df, p.FinalValLosses.Count, best.FinalValLosses.Count))
                .Select(p => p.LearningRate).Order().ToList();
        return new BestRate(width, best.LearningRate, best.Mean, within, noise, df);
    }

    /// <summary>The pooled within-rate standard deviation and its degrees of freedom; (NaN, 0) when no rate has two seeds.</summary>
    public static (double Std, int Df) Pooled(IEnumerable<SweepPoint> finitePoints)
    {
        double ss = 0;
        int df = 0;
        foreach (var p in finitePoints)
        {
            double mean = p.FinalValLosses.Average();
            ss += p.FinalValLosses.Sum(x => (x - mean) * (x - mean));
            df += p.FinalValLosses.Count - 1;
        }
        return df == 0 ? (double.NaN, 0) : (Math.Sqrt(ss / df), df);
    }

    /// <summary>The 95 % half-width of a difference of two means of n₁ and n₂ seeds with pooled std s_p on df degrees of freedom.</summary>
    public static double Threshold(double pooledStd, int df, int n1, int n2) =>
        df == 0 || double.IsNaN(pooledStd) ? double.NaN : StudentT.Quantile(0.975, df) * pooledStd * Math.Sqrt(1.0 / n1 + 1.0 / n2);

    /// <summary>Grid steps from <paramref name="from"/> to <paramref name="to"/> on a grid of ratio <paramref name="factor"/>: log_f(to/from), signed.</summary>
    public static double GridSteps(double from, double to, double factor = 2)
    {
        if (!(from > 0) || !(to > 0)) throw new ArgumentOutOfRangeException(nameof(from), $"rates must be > 0 (got {from} and {to}).");
        if (!(factor > 1)) throw new ArgumentOutOfRangeException(nameof(factor), $"the grid's factor must be > 1 (got {factor}).");
        return Math.Round(Math.Log(to / from) / Math.Log(factor), 9);
    }

    /// <summary>
    /// The widest width's loss at the narrowest's best rate against its own best. Null when the widest never trained at
    /// that rate; a transferred rate whose runs diverged has an infinite loss.
    /// </summary>
    public static TransferredRate? Transferred(BestRate narrowest, BestRate widest, IReadOnlyList<SweepPoint> widestPoints)
    {
        var at = widestPoints.FirstOrDefault(p => p.LearningRate == narrowest.Rate);
        if (at is null) return null;
        var best = widestPoints.Single(p => p.LearningRate == widest.Rate);
        return new TransferredRate(at.LearningRate, at.Mean, widest.MeanLoss,
            Threshold(widest.Noise, widest.NoiseDf, at.FinalValLosses.Count, best.FinalValLosses.Count));
    }

    internal static string Rate(double rate) => LearningRateSweepReport.FormatRate(rate);
    internal static string F(double v, string format = "F4") => double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : v.ToString(CultureInfo.InvariantCulture);
}

using LMHarness.Config;
using LMHarness.Reports;

namespace LMHarness.Experiments;

/// <summary>
/// The learning-rate grid of a sweep and the rule that extends it. Comparing architectures at one learning rate
/// compares how well that rate suits each of them as much as the architectures: the optimum moves with width, depth,
/// heads and optimizer (Yang et al. 2022, "Tensor Programs V", shows it move with width under standard
/// parameterisation). So each variant trains on a log grid around the recipe's rate η₀,
/// <code>  η_i = η₀ · f^(i - (n-1)/2),  i = 0 .. n-1   (n = 5, f = 2: η₀/4 .. 4η₀; η₀ itself in the middle)  </code>
/// and when its best rate (lowest mean final validation loss over seeds) sits on an edge of what was tried, the grid
/// grows one more factor f past that edge (<see cref="Extension"/>), up to <see cref="MaxExtensions"/> times.
/// </summary>
public static class LearningRateSweep
{
    /// <summary>Rates in the initial grid, and how often the grid may grow past an edge.</summary>
    public const int DefaultPoints = 5, MaxExtensions = 3;
    /// <summary>The ratio of neighbouring rates.</summary>
    public const double DefaultFactor = 2;

    /// <summary>The initial grid, ascending: η₀ · f^(i - (n-1)/2).</summary>
    public static IReadOnlyList<double> Grid(double baseRate, int points = DefaultPoints, double factor = DefaultFactor)
    {
        if (!(baseRate > 0) || !double.IsFinite(baseRate)) throw new ArgumentOutOfRangeException(nameof(baseRate), $"a learning-rate sweep needs a base rate > 0 (got {baseRate}).");
        if (points < 3) throw new ArgumentOutOfRangeException(nameof(points), $"a learning-rate sweep needs at least 3 rates to tell an optimum from an edge (got {points}).");
        if (!(factor > 1)) throw new ArgumentOutOfRangeException(nameof(factor), $"the grid's factor must be > 1 (got {factor}).");
        return [.. Enumerable.Range(0, points).Select(i => baseRate * Math.Pow(factor, i - (points - 1) / 2.0))];
    }

    /// <summary>
    /// The rate to add when the best of <paramref name="meanLoss"/> (rate -> mean final validation loss over seeds;
    /// NaN or infinite for a rate whose runs diverged) is the lowest or highest rate tried: that edge divided or
    /// multiplied by <paramref name="factor"/>. Null when the best is inside the grid. Throws when every rate diverged.
    /// </summary>
    public static double? Extension(IReadOnlyDictionary<double, double> meanLoss, double factor = DefaultFactor)
    {
        var finite = meanLoss.Where(kv => double.IsFinite(kv.Value)).ToList();
        if (finite.Count == 0)
            throw new InvalidOperationException($"every learning rate tried ({string.Join(", ", meanLoss.Keys.Order().Select(Format))}) diverged: lower the recipe's --lr.");
        var best = finite.MinBy(kv => kv.Value).Key;
        if (best == meanLoss.Keys.Min()) return best / factor;
        if (best == meanLoss.Keys.Max()) return best * factor;
        return null;
    }

    /// <summary>The rate with the lowest mean final validation loss (rates whose runs diverged never win).</summary>
    public static double Best(IReadOnlyDictionary<double, double> meanLoss) =>
        meanLoss.Where(kv => double.IsFinite(kv.Value)).MinBy(kv => kv.Value).Key;

    /// <summary>
    /// The training config at rate <paramref name="rate"/>: every learning rate of <paramref name="training"/> (peak,
    /// floor of the decay, Muon's) scaled by rate / learning_rate, so the schedule keeps its shape.
    /// </summary>
    public static TrainingConfig At(TrainingConfig training, double rate)
    {
        double scale = rate / training.LearningRate;
        return training with
        {
            LearningRate = rate, MinLearningRate = training.MinLearningRate * scale, MuonLearningRate = training.MuonLearningRate * scale,
        };
    }

    /// <summary>A short, folder-safe label: 0.003 -> "3e-3", 0.0075 -> "7.5e-3", 0.012 -> "1.2e-2".</summary>
    public static string Format(double rate) => LearningRateSweepReport.FormatRate(rate);
}

using System.Globalization;
using System.Text;
using OxyPlot;
using OxyPlot.Annotations;
using OxyPlot.Axes;
using OxyPlot.Series;
using LMHarness.Plots;

namespace LMHarness.Reports;

/// <summary>One variant at one learning rate: the final validation loss of each seed (NaN for a run that diverged).</summary>
public sealed record SweepPoint(string Variant, double LearningRate, IReadOnlyList<double> FinalValLosses)
{
    /// <summary>Whether every seed ended with a finite loss.</summary>
    public bool Finite => FinalValLosses.Count > 0 && FinalValLosses.All(double.IsFinite);

    /// <summary>The seeds' statistics; null when a seed diverged.</summary>
    public SampleStats? Stats => Finite ? SampleStats.Of(FinalValLosses) : null;

    /// <summary>Mean final loss, +∞ when a seed diverged (so a diverged rate is never the best).</summary>
    public double Mean => Finite ? FinalValLosses.Average() : double.PositiveInfinity;
}

/// <summary>
/// A learning-rate sweep's table (lr_sweep.csv: one row per variant and rate with n, mean, std, 95 % interval,
/// min, max and whether it is the variant's best rate) and figure (final validation loss against the rate, log x,
/// one line per variant through the seeds' means with a min-to-max band, each variant's best rate starred).
/// </summary>
public static class LearningRateSweepReport
{
    /// <summary>lr_sweep.csv columns, in order.</summary>
    public static readonly IReadOnlyList<string> CsvColumns =
        ["variant", "learning_rate", "n", "mean", "std", "ci_low", "ci_high", "min", "max", "best"];

    /// <summary>Each variant's best rate: the lowest mean final validation loss among its finite points.</summary>
    public static IReadOnlyDictionary<string, double> Best(IReadOnlyList<SweepPoint> points) =>
        points.GroupBy(p => p.Variant).Where(g => g.Any(p => p.Finite))
            .ToDictionary(g => g.Key, g => g.Where(p => p.Finite).MinBy(p => p.Mean)!.LearningRate);

    /// <summary>lr_sweep.csv: points in variant order, rates ascending; empty statistics for a rate that diverged.</summary>
    public static string Csv(IReadOnlyList<SweepPoint> points)
    {
        var best = Best(points);
        var sb = new StringBuilder(string.Join(',', CsvColumns)).Append('\n');
        foreach (var g in points.GroupBy(p => p.Variant))
            foreach (var p in g.OrderBy(p => p.LearningRate))
            {
                var s = p.Stats;
                var finite = p.FinalValLosses.Where(double.IsFinite).ToList();
                sb.AppendJoin(',', Comparison.Quote(p.Variant), R(p.LearningRate), p.FinalValLosses.Count, R(s?.Mean), R(s?.Std), R(s?.CiLow), R(s?.CiHigh),
                    R(finite.Count > 0 ? finite.Min() : null), R(finite.Count > 0 ? finite.Max() : null),
                    best.TryGetValue(p.Variant, out var b) && b == p.LearningRate ? "true" : "false").Append('\n');
            }
        return sb.ToString();
    }

    /// <summary>
    /// Final validation loss against the learning rate (log axis): per variant the seeds' mean (line and dots) and
    /// min-to-max band, a star on its best rate; a dashed line at <paramref name="recipeRates"/> (the rates the recipe
    /// sets, the middle of each grid). Rates whose runs diverged are left out of the line and named in the subtitle.
    /// </summary>
    public static PlotModel Chart(IReadOnlyList<SweepPoint> points, IReadOnlyCollection<double> recipeRates)
    {
        if (points.Count == 0) throw new ArgumentException("no sweep points to plot");
        var seeds = points.Max(p => p.FinalValLosses.Count);
        var diverged = points.Where(p => !p.Finite).Select(p => $"{p.Variant} at {p.LearningRate.ToString("G3", CultureInfo.InvariantCulture)}").ToList();
        var x = new RateAxis([.. points.Select(p => p.LearningRate).Distinct().Order()])
        {
            Position = AxisPosition.Bottom, Title = "peak learning rate (log scale; ticks at the rates tried)", MajorGridlineStyle = LineStyle.Dot,
            MajorGridlineColor = OxyColor.FromAColor(60, OxyColors.Black), MinimumPadding = 0.06, MaximumPadding = 0.06,
        };
        var y = Charts.YAxis("final validation loss (nats/token)", false);
        y.MinimumPadding = y.MaximumPadding = 0.08;
        var model = Charts.NewModel("Final validation loss vs learning rate", x, y,
            $"lines: mean over seeds; shading: min to max over {seeds} seed{(seeds == 1 ? "" : "s")}; star: each variant's best rate; dashed: the recipe's rate"
            + (diverged.Count > 0 ? $"; diverged: {string.Join(", ", diverged)}" : ""));
        var best = Best(points);
        int i = 0;
        foreach (var g in points.GroupBy(p => p.Variant))
        {
            var colour = Charts.Palette[i++ % Charts.Palette.Count];
            var finite = g.Where(p => p.Finite).OrderBy(p => p.LearningRate).ToList();
            if (finite.Count == 0) continue;
            if (seeds > 1)
            {
                var band = new AreaSeries { Color = OxyColors.Transparent, Fill = OxyColor.FromAColor(50, colour), StrokeThickness = 0, Color2 = OxyColors.Transparent };
                foreach (var p in finite)
                {
                    band.Points.Add(new DataPoint(p.LearningRate, p.FinalValLosses.Max()));
                    band.Points2.Add(new DataPoint(p.LearningRate, p.FinalValLosses.Min()));
                }
                model.Series.Add(band);
            }
            var line = new LineSeries { Title = g.Key, Color = colour, StrokeThickness = 2.5, MarkerType = MarkerType.Circle, MarkerSize = 4, MarkerFill = colour };
            line.Points.AddRange(finite.Select(p => new DataPoint(p.LearningRate, p.Mean)));
            model.Series.Add(line);
            var star = finite.Single(p => p.LearningRate == best[g.Key]);
            var mark = new ScatterSeries { MarkerType = MarkerType.Star, MarkerSize = 11, MarkerStroke = colour, MarkerStrokeThickness = 2.5 };
            mark.Points.Add(new ScatterPoint(star.LearningRate, star.Mean));
            model.Series.Add(mark);
        }
        foreach (var rate in recipeRates.Distinct())
            model.Annotations.Add(new LineAnnotation { Type = LineAnnotationType.Vertical, X = rate, Color = OxyColors.Gray, LineStyle = LineStyle.Dash, StrokeThickness = 1 });
        return model;
    }

    static string R(double? v) => Comparison.F(v);

    /// <summary>A learning rate as a short, folder-safe label: 0.003 -> "3e-3", 0.0075 -> "7.5e-3", 0.012 -> "1.2e-2".</summary>
    public static string FormatRate(double rate)
    {
        int exponent = (int)Math.Floor(Math.Log10(rate) + 1e-9);
        double mantissa = rate / Math.Pow(10, exponent);
        return string.Create(CultureInfo.InvariantCulture, $"{Math.Round(mantissa, 3):0.###}e{exponent}");
    }

    /// <summary>A log axis whose ticks and labels are exactly the rates tried ("1.5e-3", "3e-3"), not decades and their
    /// 2..9 multiples, which crowd a grid spanning less than two decades with overlapping labels.</summary>
    sealed class RateAxis : LogarithmicAxis
    {
        readonly IReadOnlyList<double> _rates;

        public RateAxis(IReadOnlyList<double> rates)
        {
            _rates = rates;
            LabelFormatter = FormatRate;
        }

        public override void GetTickValues(out IList<double> majorLabelValues, out IList<double> majorTickValues, out IList<double> minorTickValues)
        {
            majorLabelValues = [.. _rates];
            majorTickValues = [.. _rates];
            minorTickValues = [];
        }
    }
}

using OxyPlot;
using OxyPlot.Annotations;
using OxyPlot.Axes;
using OxyPlot.Series;
using LMHarness.Plots;

namespace LMHarness.Reports;

/// <summary>The comparison's statistical figure: the final metric by variant, every seed, the mean and its 95 % interval.</summary>
public static class ComparisonFigures
{
    /// <summary>
    /// One column per variant: a dot per seed (spread sideways so equal values stay visible), the mean as a diamond
    /// with its 95 % t-interval as error bars (none with one seed), and a dashed line at the baseline's mean.
    /// </summary>
    public static PlotModel FinalByVariant(VariantComparison stats)
    {
        if (stats.Variants.Count == 0) throw new ArgumentException($"no variant has a {stats.Metric} to plot: {stats.Headline}");
        var names = stats.Variants.Select(v => v.Variant).ToList();
        var x = new LinearAxis
        {
            Position = AxisPosition.Bottom, Title = "variant", Minimum = -0.5, Maximum = names.Count - 0.5, MajorStep = 1, MinorStep = 1,
            IsZoomEnabled = false, MajorTickSize = 0, MinorTickSize = 0,
            LabelFormatter = v => Math.Abs(v - Math.Round(v)) < 1e-9 && Math.Round(v) is >= 0 and var i && i < names.Count ? names[(int)i] : "",
        };
        var y = Charts.YAxis(stats.Metric == VariantComparison.ValBpb ? "final validation bits per byte" : "final validation loss (nats/token)", false);
        y.MinimumPadding = 0.1;
        y.MaximumPadding = 0.1;
        var model = Charts.NewModel(stats.Metric == VariantComparison.ValBpb ? "Final validation bits per byte by variant" : "Final validation loss by variant",
            x, y, "dots: seeds; diamond: mean; bars: 95% t-interval of the mean (none with one seed); dashed: baseline mean");
        model.IsLegendVisible = false;
        for (int i = 0; i < stats.Variants.Count; i++)
        {
            var v = stats.Variants[i];
            var colour = Charts.Palette[i % Charts.Palette.Count];
            var seeds = new ScatterSeries { MarkerType = MarkerType.Circle, MarkerSize = 5, MarkerFill = OxyColor.FromAColor(170, colour), MarkerStroke = colour };
            double spread = Math.Min(0.07, 0.3 / Math.Max(1, v.Values.Count - 1));
            for (int k = 0; k < v.Values.Count; k++)
                seeds.Points.Add(new ScatterPoint(i - 0.25 + (k - (v.Values.Count - 1) / 2.0) * spread, v.Values[k]));
            model.Series.Add(seeds);
            var mean = new ScatterErrorSeries
            {
                MarkerType = MarkerType.Diamond, MarkerSize = 8, MarkerFill = colour, ErrorBarColor = colour,
                ErrorBarStrokeThickness = 2.5, ErrorBarStopWidth = 8,
            };
            mean.Points.Add(new ScatterErrorPoint(i, v.Stats.Mean, 0, v.Stats.HalfWidth ?? 0));
            model.Series.Add(mean);
            if (stats.Variants.Count <= 6) // beyond that the text would run into the next column; the tables hold the numbers
                model.Annotations.Add(new TextAnnotation
            {
                Text = VariantComparison.F(v.Stats.Mean) + (v.Stats.HalfWidth is double h ? $" ± {VariantComparison.F(h)}" : ""),
                TextPosition = new DataPoint(i + 0.06, v.Stats.Mean), TextHorizontalAlignment = HorizontalAlignment.Left,
                TextVerticalAlignment = VerticalAlignment.Middle, Stroke = OxyColors.Transparent, FontSize = 13, TextColor = OxyColors.Black,
            });
        }
        var baseline = stats.Variants.First(v => v.Variant == stats.Baseline).Stats.Mean;
        model.Annotations.Add(new LineAnnotation
        {
            Type = LineAnnotationType.Horizontal, Y = baseline, Color = OxyColors.Gray, LineStyle = LineStyle.Dash, StrokeThickness = 1,
            Text = $"baseline {stats.Baseline}", TextColor = OxyColors.Gray, FontSize = 12,
        });
        return model;
    }
}

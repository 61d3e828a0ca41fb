using System.Globalization;
using System.Text;
using LMHarness.Config;
using LMHarness.Plots;
using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Series;

namespace LMHarness.Coordinates;

/// <summary>
/// What a coordinate check shows: the log-log slope of each coordinate against width (0 when it stays Θ(1), 1 when it
/// grows like the width), the CSV of every record, and one PNG with a panel per parametrization (SP beside μP): mean |x|
/// against d_model, both axes log2, one line per coordinate at one step.
/// </summary>
public static class CoordinateCheckReport
{
    /// <summary>
    /// The least-squares slope of log2(mean |x|) on log2(width) of one coordinate at one step of one parametrization:
    /// b = Σ (u - ū)(v - v̄) / Σ (u - ū)², u = log2 width, v = log2 mean |x|.
    /// </summary>
    public static double Slope(IReadOnlyList<CoordinateRecord> records, Parametrization parametrization, string coordinate, int step)
    {
        var points = records.Where(r => r.Parametrization == parametrization && r.Coordinate == coordinate && r.Step == step)
            .Select(r => (U: Math.Log2(r.Width), V: Math.Log2(r.MeanAbs))).ToList();
        if (points.Select(p => p.U).Distinct().Count() < 2)
            throw new ArgumentException($"slope of {coordinate} at step {step} ({parametrization}): needs records at two widths or more (got {points.Count}).");
        return LogLogSlope(points);
    }

    /// <summary>The least-squares slope of v on u.</summary>
    public static double LogLogSlope(IReadOnlyList<(double U, double V)> points)
    {
        if (points.Any(p => !double.IsFinite(p.U) || !double.IsFinite(p.V)))
            throw new ArgumentException("a log-log slope needs positive, finite values (a coordinate of 0 or NaN has no logarithm).");
        return MathNet.Numerics.Fit.Line(points.Select(p => p.U).ToArray(), points.Select(p => p.V).ToArray()).B;
    }

    /// <summary>"sp" or "mup", as config.json writes it.</summary>
    public static string Label(Parametrization p) => p == Parametrization.Sp ? "sp" : "mup";

    /// <summary>The last step recorded.</summary>
    public static int LastStep(IReadOnlyList<CoordinateRecord> records) => records.Max(r => r.Step);

    /// <summary>coord_check.csv: parametrization, width, step, coordinate, mean_abs.</summary>
    public static string Csv(IReadOnlyList<CoordinateRecord> records)
    {
        var sb = new StringBuilder("parametrization,width,step,coordinate,mean_abs\n");
        foreach (var r in records)
            sb.Append(Label(r.Parametrization)).Append(',').Append(r.Width).Append(',').Append(r.Step).Append(',').Append(r.Coordinate).Append(',')
              .Append(r.MeanAbs.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        return sb.ToString();
    }

    /// <summary>A markdown table: each coordinate's slope at <paramref name="step"/>, one column per parametrization.</summary>
    public static string SlopeTable(IReadOnlyList<CoordinateRecord> records, int step)
    {
        var ps = records.Select(r => r.Parametrization).Distinct().ToList();
        var sb = new StringBuilder($"| coordinate (step {step}) | {string.Join(" | ", ps.Select(p => $"slope {Label(p)}"))} |\n|---|{string.Concat(ps.Select(_ => "---:|"))}\n");
        foreach (var c in records.Select(r => r.Coordinate).Distinct())
            sb.Append($"| {c} | {string.Join(" | ", ps.Select(p => Slope(records, p, c, step).ToString("F2", CultureInfo.InvariantCulture)))} |\n");
        return sb.ToString();
    }

    /// <summary>coord_check.png: a panel per parametrization, mean |x| against d_model at <paramref name="step"/>, both log2, a shared y range.</summary>
    public static string Figure(IReadOnlyList<CoordinateRecord> records, int step, string path)
    {
        var atStep = records.Where(r => r.Step == step).ToList();
        if (atStep.Count == 0) throw new ArgumentException($"no records at step {step} to plot.");
        var ps = atStep.Select(r => r.Parametrization).Distinct().ToList();
        double lo = atStep.Min(r => r.MeanAbs), hi = atStep.Max(r => r.MeanAbs);
        var panels = ps.Select(p =>
        {
            var x = new WidthAxis([.. atStep.Select(r => (double)r.Width).Distinct().Order()])
                { Position = AxisPosition.Bottom, Title = "d_model (log scale)", MajorGridlineStyle = LineStyle.Dot, MinimumPadding = 0.05, MaximumPadding = 0.05 };
            var y = new LogarithmicAxis
            {
                Base = 2, Position = AxisPosition.Left, Title = "mean |x| (log scale)", MajorGridlineStyle = LineStyle.Dot, Minimum = lo / 1.5, Maximum = hi * 1.5,
                LabelFormatter = v => v.ToString("G3", CultureInfo.InvariantCulture),
            };
            var model = Charts.NewModel($"{(p == Parametrization.Sp ? "SP" : "μP")}: coordinates at step {step}", x, y, "flat = Θ(1) in width; slope 1 = grows like the width");
            model.Legends[0].LegendPosition = OxyPlot.Legends.LegendPosition.TopLeft;
            foreach (var (c, i) in atStep.Select(r => r.Coordinate).Distinct().Select((c, i) => (c, i)))
            {
                var colour = Charts.Palette[i % Charts.Palette.Count];
                var line = new LineSeries { Title = c, Color = colour, StrokeThickness = 2, MarkerType = MarkerType.Circle, MarkerSize = 3.5, MarkerFill = colour };
                line.Points.AddRange(atStep.Where(r => r.Parametrization == p && r.Coordinate == c).OrderBy(r => r.Width).Select(r => new DataPoint(r.Width, r.MeanAbs)));
                model.Series.Add(line);
            }
            return model;
        }).ToList();
        int w0 = Charts.Width / panels.Count;
        return PanelImage.Save(panels.Select((m, i) => new PanelImage.Panel(m, i * w0, 0, i == panels.Count - 1 ? Charts.Width - i * w0 : w0, Charts.Height)),
            Charts.Width, Charts.Height, path);
    }

    /// <summary>A log axis whose ticks are exactly the widths checked.</summary>
    sealed class WidthAxis(IReadOnlyList<double> widths) : LogarithmicAxis
    {
        public override void GetTickValues(out IList<double> majorLabelValues, out IList<double> majorTickValues, out IList<double> minorTickValues)
        {
            majorLabelValues = [.. widths];
            majorTickValues = [.. widths];
            minorTickValues = [];
        }
    }
}

using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;
using LMHarness.IO;
using LMHarness.Runs;

namespace LMHarness.Plots;

/// <summary>
/// The standard training plots, drawn with OxyPlot and saved as PNG (<see cref="Save"/>) at one fixed size.
/// Runs are grouped by variant: each variant gets one colour in every chart (its position in the list of runs),
/// a line for the mean over its seeds and a shaded band from the lowest to the highest seed.
/// </summary>
public static class Charts
{
    /// <summary>Every PNG is this many pixels wide...</summary>
    public const int Width = 1200;
    /// <summary>...and this many high.</summary>
    public const int Height = 750;

    /// <summary>Colour-blind-friendly categorical palette (Tableau 10), assigned to variants in order of appearance.</summary>
    public static readonly IReadOnlyList<OxyColor> Palette =
    [
        OxyColor.FromRgb(0x1f, 0x77, 0xb4), OxyColor.FromRgb(0xff, 0x7f, 0x0e), OxyColor.FromRgb(0x2c, 0xa0, 0x2c),
        OxyColor.FromRgb(0xd6, 0x27, 0x28), OxyColor.FromRgb(0x94, 0x67, 0xbd), OxyColor.FromRgb(0x8c, 0x56, 0x4b),
        OxyColor.FromRgb(0xe3, 0x77, 0xc2), OxyColor.FromRgb(0x7f, 0x7f, 0x7f), OxyColor.FromRgb(0xbc, 0xbd, 0x22),
        OxyColor.FromRgb(0x17, 0xbe, 0xcf),
    ];

    /// <summary>Validation (thick, band over seeds) and training (thin, dashed) loss against tokens seen.</summary>
    public static PlotModel LossVsTokens(IReadOnlyList<RunData> runs, bool logTokens, bool logLoss) =>
        LossChart(runs, "Loss vs tokens seen", "tokens seen", m => m.Tokens, logTokens, logLoss);

    /// <summary>Plain overload of <see cref="LossVsTokens(IReadOnlyList{RunData}, bool, bool)"/> with linear axes.</summary>
    public static PlotModel LossVsTokens(IReadOnlyList<RunData> runs) => LossVsTokens(runs, false, false);

    /// <summary>The same losses against wall-clock seconds since the start of training.</summary>
    public static PlotModel LossVsTime(IReadOnlyList<RunData> runs) =>
        LossChart(runs, "Loss vs wall time", "wall time (s)", m => m.ElapsedS, false, false);

    /// <summary>The learning rate actually used at each step (warmup and decay made visible).</summary>
    public static PlotModel LearningRate(IReadOnlyList<RunData> runs)
    {
        var model = NewModel("Learning-rate schedule", XAxis("optimizer step", false, plain: true), YAxis("learning rate", false), "peak learning rate after warm-up, then decay");
        foreach (var (variant, seeds, color) in ByVariant(runs))
            AddMeanAndBand(model, seeds, m => m.Step, m => m.Lr, variant, color, 2.5, LineStyle.Solid);
        return model;
    }

    /// <summary>
    /// Training throughput against tokens seen: tokens_per_s, training tokens per second of training time
    /// (evaluation excluded; the subtitle gives evaluation's share of wall time, the tables its seconds).
    /// </summary>
    public static PlotModel Throughput(IReadOnlyList<RunData> runs)
    {
        var y = YAxis("training throughput (tokens/s)", false);
        y.Minimum = 0; // from zero, so a 5 % difference looks like one
        double evalShare = EvalShare(runs);
        var model = NewModel("Training throughput", XAxis("tokens seen", false), y,
            "training tokens per second of training time (evaluation and checkpoint time excluded)"
            + (evalShare > 0 ? $"; evaluation took {evalShare:P0} of wall time" : ""));
        foreach (var (variant, seeds, color) in ByVariant(runs))
            AddMeanAndBand(model, seeds, m => m.Tokens, m => m.Step > 0 ? m.TokensPerS : null, variant, color, 2.5, LineStyle.Solid); // step 0 only evaluates
        return model;
    }

    // Σ eval_s / Σ elapsed_s at the runs' last rows.
    static double EvalShare(IReadOnlyList<RunData> runs) =>
        runs.Sum(r => r.Metrics[^1].EvalS) / Math.Max(1e-9, runs.Sum(r => r.Metrics[^1].ElapsedS));

    /// <summary>
    /// Gradient flow of one run: mean and max |gradient| of every parameter tensor (in model order) at the last
    /// logged step, on a log scale, so vanishing (tiny) or exploding (huge) layers stand out.
    /// </summary>
    public static PlotModel GradientFlow(RunData run)
    {
        if (run.GradFlow.Count == 0)
            throw new InvalidOperationException($"{run.Folder} has no gradflow.csv rows: train with gradient-flow logging on to plot it.");
        var step = run.GradFlow.Max(g => g.Step);
        var rows = run.GradFlow.Where(g => g.Step == step).ToList();
        var names = new CategoryAxis
        {
            Position = AxisPosition.Bottom, Title = "parameter tensor", Angle = -60, FontSize = rows.Count > 40 ? 9 : 12,
            IsTickCentered = true, GapWidth = 0,
        };
        names.Labels.AddRange(rows.Select(r => Shorten(r.Param)));
        var model = NewModel($"Gradient flow of {run.Label} at step {step}", names,
            // Headroom above the data for the legend, which sits inside the plot area.
            new LogarithmicAxis { Position = AxisPosition.Left, Title = "|gradient| (log scale)", MajorGridlineStyle = LineStyle.Dot, MinorGridlineStyle = LineStyle.None, MinimumPadding = 0.05, MaximumPadding = 0.3 },
            "per parameter tensor, in model order: very small = vanishing, very large = exploding");
        model.Legends[0].LegendPosition = LegendPosition.TopRight; // inside the plot area, over the light gridlines
        var mean = new LineSeries { Title = "mean |grad| of tensor", Color = Palette[0], StrokeThickness = 2, MarkerType = MarkerType.Circle, MarkerSize = 3 };
        var max = new LineSeries { Title = "max |grad| of tensor", Color = Palette[1], StrokeThickness = 2, MarkerType = MarkerType.Triangle, MarkerSize = 3 };
        for (int i = 0; i < rows.Count; i++)
        {
            mean.Points.Add(new DataPoint(i, Positive(rows[i].MeanAbsGrad)));
            max.Points.Add(new DataPoint(i, Positive(rows[i].MaxAbsGrad)));
        }
        model.Series.Add(mean);
        model.Series.Add(max);
        return model;
    }

    /// <summary>Writes the chart as a <see cref="Width"/> x <see cref="Height"/> PNG (temp file, then rename) and returns the path.</summary>
    public static string Save(PlotModel model, string path)
    {
        return AtomicFile.Write(path, stream => Exporter().Export(model, stream));
    }

    /// <summary>The chart as the PNG bytes <see cref="Save"/> would write, e.g. to show it in a notebook.</summary>
    public static byte[] Png(PlotModel model)
    {
        using var stream = new MemoryStream();
        Exporter().Export(model, stream);
        return stream.ToArray();
    }

    /// <summary>An HTML <c>img</c> element holding the chart as a data URI: how a notebook shows it inline
    /// (notebooks/lmharness.ipynb: <c>display(new Html(Charts.Html(chart)))</c>, a record the notebook formats as text/html).</summary>
    public static string Html(PlotModel model, int width = 800) => Html(Png(model), width);

    /// <summary>An HTML <c>img</c> element holding PNG bytes (e.g. a file <see cref="TrajectoryPlot.Save"/> wrote) as a data URI.</summary>
    public static string Html(byte[] png, int width = 800) => $"<img src=\"data:image/png;base64,{Convert.ToBase64String(png)}\" width=\"{width}\"/>";

    static OxyPlot.SkiaSharp.PngExporter Exporter() => new() { Width = Width, Height = Height, UseTextShaping = false };

    static PlotModel LossChart(IReadOnlyList<RunData> runs, string title, string xTitle, Func<MetricsRow, double> x, bool logX, bool logY)
    {
        var seedCount = runs.GroupBy(r => r.Variant).Max(g => g.Count());
        var model = NewModel(title, XAxis(xTitle, logX), YAxis("cross-entropy loss (nats/token)", logY),
            "solid: validation, dashed: training" + (seedCount > 1 ? $"; lines: mean over seeds, shading: min to max over seeds ({seedCount} seeds)" : ""));
        foreach (var (variant, seeds, color) in ByVariant(runs))
        {
            AddMeanAndBand(model, seeds, x, m => m.TrainLoss, $"{variant} train", color.ChangeIntensity(1.0), 1.2, LineStyle.Dash, band: false);
            AddMeanAndBand(model, seeds, x, m => m.ValLoss, $"{variant} val", color, 3, LineStyle.Solid);
        }
        return model;
    }

    /// <summary>Variants in order of first appearance with their seeds and their colour.</summary>
    public static IEnumerable<(string Variant, IReadOnlyList<RunData> Seeds, OxyColor Color)> ByVariant(IReadOnlyList<RunData> runs)
    {
        if (runs.Count == 0) throw new ArgumentException("no runs to plot: pass at least one run folder with a metrics.csv.");
        return runs.GroupBy(r => r.Variant).Select((g, i) => (g.Key, (IReadOnlyList<RunData>)g.ToList(), Palette[i % Palette.Count]));
    }

    /// <summary>
    /// Mean over seeds at each logged step where every seed has a value, and the min..max band. The x of a step is
    /// the seeds' mean x there (tokens are equal across seeds; wall time differs slightly).
    /// </summary>
    public static IReadOnlyList<(double X, double Mean, double Lo, double Hi)> Aggregate(
        IReadOnlyList<RunData> seeds, Func<MetricsRow, double> x, Func<MetricsRow, double?> y)
    {
        var perStep = seeds
            .SelectMany(r => r.Metrics.Where(m => y(m) is double v && double.IsFinite(v)).Select(m => (m.Step, X: x(m), Y: y(m)!.Value)))
            .GroupBy(p => p.Step)
            .Where(g => g.Count() == seeds.Count)
            .OrderBy(g => g.Key);
        return perStep.Select(g => (g.Average(p => p.X), g.Average(p => p.Y), g.Min(p => p.Y), g.Max(p => p.Y))).ToList();
    }

    internal static void AddMeanAndBand(PlotModel model, IReadOnlyList<RunData> seeds, Func<MetricsRow, double> x, Func<MetricsRow, double?> y,
        string title, OxyColor color, double thickness, LineStyle style, bool band = true)
    {
        var points = Aggregate(seeds, x, y);
        if (points.Count == 0) return;
        if (band && seeds.Count > 1)
        {
            var area = new AreaSeries { Color = OxyColors.Transparent, Fill = OxyColor.FromAColor(50, color), StrokeThickness = 0, Color2 = OxyColors.Transparent };
            foreach (var p in points)
            {
                area.Points.Add(new DataPoint(p.X, p.Hi));
                area.Points2.Add(new DataPoint(p.X, p.Lo));
            }
            model.Series.Add(area);
        }
        var line = new LineSeries
        {
            Title = title,
            Color = color, StrokeThickness = thickness, LineStyle = style,
            MarkerType = points.Count <= 30 && style == LineStyle.Solid ? MarkerType.Circle : MarkerType.None, MarkerSize = 3.5, MarkerFill = color,
        };
        line.Points.AddRange(points.Select(p => new DataPoint(p.X, p.Mean)));
        model.Series.Add(line);
    }

    internal static PlotModel NewModel(string title, Axis x, Axis y, string? subtitle = null)
    {
        var model = new PlotModel
        {
            Title = title, Subtitle = subtitle, SubtitleFontSize = 13, DefaultFont = "DejaVu Sans", Background = OxyColors.White, DefaultFontSize = 15, TitleFontSize = 20, PlotAreaBorderColor = OxyColors.Gray,
            Padding = new OxyThickness(12),
        };
        model.Axes.Add(x);
        model.Axes.Add(y);
        model.Legends.Add(new Legend
        {
            LegendPlacement = LegendPlacement.Inside, LegendPosition = LegendPosition.TopRight, LegendFontSize = 13,
            LegendBackground = OxyColor.FromAColor(220, OxyColors.White), LegendBorder = OxyColors.LightGray,
        });
        return model;
    }

    internal static Axis XAxis(string title, bool log, bool plain = false)
    {
        Axis axis = log ? new LogarithmicAxis() : new LinearAxis();
        axis.Position = AxisPosition.Bottom;
        axis.Title = title;
        axis.MajorGridlineStyle = LineStyle.Dot;
        axis.MajorGridlineColor = OxyColor.FromAColor(60, OxyColors.Black);
        if (!plain) axis.LabelFormatter = Si;
        return axis;
    }

    internal static Axis YAxis(string title, bool log)
    {
        Axis axis = log ? new LogarithmicAxis() : new LinearAxis();
        axis.Position = AxisPosition.Left;
        axis.Title = title;
        axis.MajorGridlineStyle = LineStyle.Dot;
        axis.MajorGridlineColor = OxyColor.FromAColor(60, OxyColors.Black);
        return axis;
    }

    /// <summary>1234567 -> "1.23M": tick labels that stay short.</summary>
    static string Si(double v) => Math.Abs(v) switch
    {
        >= 1e9 => $"{v / 1e9:0.##}G",
        >= 1e6 => $"{v / 1e6:0.##}M",
        >= 1e3 => $"{v / 1e3:0.##}k",
        _ => $"{v:0.##}",
    };

    static double Positive(double v) => v > 0 && double.IsFinite(v) ? v : double.NaN;

    /// <summary>"model.layers.3.self_attn.q_proj.weight" -> "layers.3.self_attn.q_proj.weight": the common prefix adds nothing.</summary>
    static string Shorten(string name) => name.StartsWith("model.", StringComparison.Ordinal) ? name[6..] : name;
}

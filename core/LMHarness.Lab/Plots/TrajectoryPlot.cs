using OxyPlot;
using OxyPlot.Annotations;
using OxyPlot.Axes;
using OxyPlot.Series;
using SkiaSharp;

using LMHarness.Analysis;
using LMHarness.IO;

namespace LMHarness.Plots;

/// <summary>
/// Draws <see cref="TrajectoryPanel"/>s as one PNG: a row per representation, a column per principal-component pair
/// (PC1-PC2, PC2-PC3, ...). Consecutive tokens are joined by lines (the trajectory), prompt tokens in blue,
/// continuation tokens in orange, each point labelled with its token text (whitespace made visible). At most
/// <see cref="MaxRows"/> representations are drawn: the embeddings, the last layer, and layers evenly between.
/// </summary>
public static class TrajectoryPlot
{
    public const int PanelWidth = 800, PanelHeight = 600, MaxRows = 6;
    static readonly OxyColor PromptColour = OxyColor.FromRgb(0x1f, 0x77, 0xb4), ContinuationColour = OxyColor.FromRgb(0xff, 0x7f, 0x0e);

    /// <summary>The panels drawn when there are more than <see cref="MaxRows"/>: first, last and evenly spaced between.</summary>
    public static IReadOnlyList<TrajectoryPanel> Select(IReadOnlyList<TrajectoryPanel> panels)
    {
        if (panels.Count <= MaxRows) return panels;
        return Enumerable.Range(0, MaxRows).Select(i => (int)Math.Round(i * (panels.Count - 1) / (double)(MaxRows - 1))).Distinct().Select(i => panels[i]).ToList();
    }

    /// <summary>One PC-pair chart (a, b are 0-based component indices).</summary>
    public static PlotModel Chart(TrajectoryPanel panel, int a, int b)
    {
        var model = new PlotModel
        {
            Title = $"{panel.Name}: PC{a + 1} vs PC{b + 1}",
            Subtitle = $"explained variance PC{a + 1} {panel.ExplainedVarianceRatio[a]:P0}, PC{b + 1} {panel.ExplainedVarianceRatio[b]:P0}; blue = prompt, orange = continuation",
            Background = OxyColors.White,
        };
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = $"PC{a + 1}" });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Left, Title = $"PC{b + 1}" });
        var pts = panel.Points;
        var path = new LineSeries { Color = OxyColor.FromAColor(90, OxyColors.Gray), StrokeThickness = 1 };
        foreach (var p in pts) path.Points.Add(new DataPoint(p.Coordinates[a], p.Coordinates[b]));
        model.Series.Add(path);
        foreach (var (isPrompt, colour, title) in new[] { (true, PromptColour, "prompt"), (false, ContinuationColour, "continuation") })
        {
            var s = new ScatterSeries { Title = title, MarkerType = MarkerType.Circle, MarkerSize = 4, MarkerFill = colour };
            foreach (var p in pts.Where(p => p.IsPrompt == isPrompt)) s.Points.Add(new ScatterPoint(p.Coordinates[a], p.Coordinates[b]));
            model.Series.Add(s);
        }
        // Labels on every token up to 80; beyond that every k-th, so the chart stays readable.
        int every = Math.Max(1, (int)Math.Ceiling(pts.Count / 80.0));
        foreach (var p in pts.Where(p => p.Position % every == 0))
            model.Annotations.Add(new TextAnnotation
            {
                Text = Visible(p.Token), TextPosition = new DataPoint(p.Coordinates[a], p.Coordinates[b]),
                TextColor = p.IsPrompt ? PromptColour : ContinuationColour, Stroke = OxyColors.Transparent, FontSize = 13,
                TextHorizontalAlignment = HorizontalAlignment.Left, TextVerticalAlignment = VerticalAlignment.Bottom,
                Offset = new ScreenVector(3, -2),
            });
        return model;
    }

    /// <summary>Writes the grid (rows: representations, columns: PC pairs) as a PNG (temp file, then rename); returns the path.</summary>
    public static string Save(IReadOnlyList<TrajectoryPanel> panels, string path)
    {
        if (panels.Count == 0) throw new ArgumentException("no trajectory panels to plot");
        var rows = Select(panels);
        int pairs = Math.Max(1, rows[0].ExplainedVarianceRatio.Length - 1);
        var info = new SKImageInfo(PanelWidth * pairs, PanelHeight * rows.Count);
        using var surface = SKSurface.Create(info);
        surface.Canvas.Clear(SKColors.White);
        for (int r = 0; r < rows.Count; r++)
            for (int c = 0; c < pairs; c++)
            {
                using var ms = new MemoryStream();
                new OxyPlot.SkiaSharp.PngExporter { Width = PanelWidth, Height = PanelHeight, UseTextShaping = false }.Export(Chart(rows[r], c, c + 1), ms);
                ms.Position = 0;
                using var bmp = SKBitmap.Decode(ms);
                surface.Canvas.DrawBitmap(bmp, c * PanelWidth, r * PanelHeight);
            }
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 90);
        return AtomicFile.Write(path, data.SaveTo);
    }

    /// <summary>Makes tokens readable on a chart: space -> '·', newline -> '↵', tab -> '→', other control characters -> \xNN.</summary>
    public static string Visible(string token) => string.Concat(token.Select(ch => ch switch
    {
        ' ' => "·",
        '\n' => "↵",
        '\t' => "→",
        _ when char.IsControl(ch) => $"\\x{(int)ch:x2}",
        _ => ch.ToString(),
    }));
}

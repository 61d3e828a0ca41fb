using OxyPlot;
using OxyPlot.Annotations;
using OxyPlot.Axes;
using OxyPlot.Series;

using LMHarness.Analysis;

namespace LMHarness.Plots;

/// <summary>
/// Draws <see cref="TrajectoryPanel"/>s as one PNG: a row per representation, a column per principal-component pair
/// (PC1-PC2, PC2-PC3, ...). Consecutive tokens are joined by lines (the trajectory), prompt tokens in blue,
/// continuation tokens in orange, points labelled with their token text (whitespace made visible) where a label
/// fits without covering another (<see cref="PlaceLabels"/>), axes widened by <see cref="Margin"/> so no point
/// sits on the frame. At most
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

    /// <summary>Share of the data range added on each side of both axes, so no point sits on the frame.</summary>
    public const double Margin = 0.08;
    /// <summary>Font size of the token labels; their boxes are estimated from it (see <see cref="PlaceLabels"/>).</summary>
    public const double LabelFontSize = 13;
    // The plot area inside a panel: the panel less the title, subtitle and axes (measured on rendered panels).
    const double AreaLeft = 70, AreaRight = 20, AreaTop = 62, AreaBottom = 50;

    /// <summary>One token label as drawn: its text, the point it names (data coordinates) and its box in panel pixels.</summary>
    public sealed record Label(string Text, bool IsPrompt, double X, double Y, double Left, double Top, double Width, double Height, HorizontalAlignment Align, VerticalAlignment VAlign);

    /// <summary>One PC-pair chart (a, b are 0-based component indices).</summary>
    public static PlotModel Chart(TrajectoryPanel panel, int a, int b)
    {
        var model = new PlotModel
        {
            Title = $"{panel.Name}: PC{a + 1} vs PC{b + 1}",
            Subtitle = $"explained variance PC{a + 1} {panel.ExplainedVarianceRatio[a]:P0}, PC{b + 1} {panel.ExplainedVarianceRatio[b]:P0}; blue = prompt, orange = continuation",
            Background = OxyColors.White, DefaultFont = "DejaVu Sans", DefaultFontSize = 13, TitleFontSize = 16, SubtitleFontSize = 12,
            PlotAreaBorderColor = OxyColors.Gray, IsLegendVisible = false,
        };
        var pts = panel.Points;
        var (xMin, xMax) = Range(pts.Select(p => p.Coordinates[a]));
        var (yMin, yMax) = Range(pts.Select(p => p.Coordinates[b]));
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = $"PC{a + 1}", Minimum = xMin, Maximum = xMax, MajorGridlineStyle = LineStyle.Dot, MajorGridlineColor = OxyColor.FromAColor(40, OxyColors.Black) });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Left, Title = $"PC{b + 1}", Minimum = yMin, Maximum = yMax, MajorGridlineStyle = LineStyle.Dot, MajorGridlineColor = OxyColor.FromAColor(40, OxyColors.Black) });
        var path = new LineSeries { Color = OxyColor.FromAColor(90, OxyColors.Gray), StrokeThickness = 1 };
        foreach (var p in pts) path.Points.Add(new DataPoint(p.Coordinates[a], p.Coordinates[b]));
        model.Series.Add(path);
        foreach (var (isPrompt, colour, title) in new[] { (true, PromptColour, "prompt"), (false, ContinuationColour, "continuation") })
        {
            var s = new ScatterSeries { Title = title, MarkerType = MarkerType.Circle, MarkerSize = 4, MarkerFill = colour };
            foreach (var p in pts.Where(p => p.IsPrompt == isPrompt)) s.Points.Add(new ScatterPoint(p.Coordinates[a], p.Coordinates[b]));
            model.Series.Add(s);
        }
        foreach (var l in PlaceLabels(pts, a, b, (xMin, xMax), (yMin, yMax)))
            model.Annotations.Add(new TextAnnotation
            {
                Text = l.Text, TextPosition = new DataPoint(l.X, l.Y), TextColor = l.IsPrompt ? PromptColour : ContinuationColour,
                Stroke = OxyColors.Transparent, FontSize = LabelFontSize, TextHorizontalAlignment = l.Align, TextVerticalAlignment = l.VAlign,
                Offset = new ScreenVector(l.Align == HorizontalAlignment.Left ? 4 : -4, l.VAlign == VerticalAlignment.Bottom ? -2 : 2),
                ClipByXAxis = false, ClipByYAxis = false,
            });
        return model;
    }

    /// <summary>
    /// The token labels a chart draws, placed so they stay readable. A token repeated at the same spot (the
    /// embeddings of a repeated token are identical) gets one label "tok ×k" instead of k labels drawn over each
    /// other. Each label tries the four corners around its point (right-above first) and takes the first whose box
    /// overlaps no label placed before and stays inside the plot area; a label with no free corner is left out
    /// (its point is still drawn). Boxes are estimated in panel pixels from <see cref="LabelFontSize"/>.
    /// </summary>
    public static IReadOnlyList<Label> PlaceLabels(IReadOnlyList<TrajectoryPoint> pts, int a, int b, (double Min, double Max) xRange, (double Min, double Max) yRange)
    {
        double areaW = PanelWidth - AreaLeft - AreaRight, areaH = PanelHeight - AreaTop - AreaBottom;
        double Px(double x) => (x - xRange.Min) / (xRange.Max - xRange.Min) * areaW;
        double Py(double y) => (yRange.Max - y) / (yRange.Max - yRange.Min) * areaH;
        // One group per token text and pixel spot (2 px): repeated tokens at one place share a label.
        var groups = pts.GroupBy(p => (p.Token, X: Math.Round(Px(p.Coordinates[a]) / 2), Y: Math.Round(Py(p.Coordinates[b]) / 2)))
            .Select(g => (First: g.First(), Count: g.Count())).OrderBy(g => g.First.Position);
        var placed = new List<Label>();
        double h = LabelFontSize * 1.25;
        foreach (var (p, count) in groups)
        {
            var text = Visible(p.Token) + (count > 1 ? $" ×{count}" : "");
            double w = TextWidth(text), x = p.Coordinates[a], y = p.Coordinates[b], px = Px(x), py = Py(y);
            foreach (var (align, valign) in Corners)
            {
                double left = align == HorizontalAlignment.Left ? px + 4 : px - 4 - w;
                double top = valign == VerticalAlignment.Bottom ? py - 2 - h : py + 2;
                if (left < 0 || top < 0 || left + w > areaW || top + h > areaH) continue;
                if (placed.Any(q => left < q.Left + q.Width && q.Left < left + w && top < q.Top + q.Height && q.Top < top + h)) continue;
                placed.Add(new Label(text, p.IsPrompt, x, y, left, top, w, h, align, valign));
                break;
            }
        }
        return placed;
    }

    static readonly (HorizontalAlignment, VerticalAlignment)[] Corners =
    [
        (HorizontalAlignment.Left, VerticalAlignment.Bottom), (HorizontalAlignment.Right, VerticalAlignment.Bottom),
        (HorizontalAlignment.Left, VerticalAlignment.Top), (HorizontalAlignment.Right, VerticalAlignment.Top),
    ];

    // DejaVu Sans averages ~0.62 em per character; wide symbols (×, ↵, CJK) a little more.
    static double TextWidth(string text) => text.Sum(c => c < 0x2000 ? 0.62 : 1.0) * LabelFontSize + 2;

    /// <summary>The axis range: the data's, widened by <see cref="Margin"/> on each side (by 1 when all values are equal).</summary>
    public static (double Min, double Max) Range(IEnumerable<double> values)
    {
        var v = values.Where(double.IsFinite).ToList();
        if (v.Count == 0) return (-1, 1);
        double lo = v.Min(), hi = v.Max(), pad = hi > lo ? (hi - lo) * Margin : 1;
        return (lo - pad, hi + pad);
    }

    /// <summary>Writes the grid (rows: representations, columns: PC pairs) as a PNG (temp file, then rename); returns the path.</summary>
    public static string Save(IReadOnlyList<TrajectoryPanel> panels, string path)
    {
        if (panels.Count == 0) throw new ArgumentException("no trajectory panels to plot");
        var rows = Select(panels);
        int pairs = Math.Max(1, rows[0].ExplainedVarianceRatio.Length - 1);
        var grid = from r in Enumerable.Range(0, rows.Count)
                   from c in Enumerable.Range(0, pairs)
                   select new PanelImage.Panel(Chart(rows[r], c, c + 1), c * PanelWidth, r * PanelHeight, PanelWidth, PanelHeight);
        return PanelImage.Save(grid, PanelWidth * pairs, PanelHeight * rows.Count, path);
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

using OxyPlot;
using LMHarness.Runs;

namespace LMHarness.Plots;

/// <summary>
/// Figures of several panels: loss curves with a zoomed panel on the second half of training, where variants differ
/// by hundredths of a nat that the full curve's first steps (losses of 4 and more) squash flat.
/// </summary>
public static class Figures
{
    /// <summary>The left panel's share of a two-panel figure's width; the zoom gets the rest.</summary>
    public const double MainShare = 0.58;

    /// <summary>
    /// Two panels: validation (solid, band over seeds) and training (dashed) loss against tokens seen over the whole
    /// run, and validation loss over the second half of the tokens only, on its own y range.
    /// </summary>
    public static IReadOnlyList<PlotModel> LossWithZoom(IReadOnlyList<RunData> runs, bool logAxes)
    {
        var full = Charts.LossVsTokens(runs, logAxes, logAxes);
        var maxTokens = runs.Max(r => r.Metrics.Count == 0 ? 0 : r.Metrics[^1].Tokens);
        long from = maxTokens / 2;
        var zoom = Charts.NewModel("Second half of training", Charts.XAxis("tokens seen", false), Charts.YAxis("validation loss (nats/token)", false),
            "validation only; shading: min to max over seeds");
        zoom.Axes[1].MinimumPadding = zoom.Axes[1].MaximumPadding = 0.08;
        foreach (var (variant, seeds, colour) in Charts.ByVariant(runs))
            Charts.AddMeanAndBand(zoom, seeds, m => m.Tokens, m => m.Tokens >= from ? m.ValLoss : null, variant, colour, 3, LineStyle.Solid);
        zoom.IsLegendVisible = false; // the colours are the full panel's
        return [full, zoom];
    }

    /// <summary>
    /// Draws the panels side by side into one <see cref="Charts.Width"/> x <see cref="Charts.Height"/> PNG: the first
    /// gets <see cref="MainShare"/> of the width, the others share the rest. Temp file, then rename; returns the path.
    /// </summary>
    public static string SavePanels(IReadOnlyList<PlotModel> panels, string path)
    {
        if (panels.Count == 0) throw new ArgumentException("no panels to draw");
        var widths = panels.Count == 1 ? [Charts.Width]
            : panels.Select((_, i) => i == 0 ? (int)(Charts.Width * MainShare) : (int)(Charts.Width * (1 - MainShare) / (panels.Count - 1))).ToArray();
        widths[^1] += Charts.Width - widths.Sum();
        var placed = new List<PanelImage.Panel>();
        int left = 0;
        for (int i = 0; i < panels.Count; left += widths[i], i++)
            placed.Add(new PanelImage.Panel(panels[i], left, 0, widths[i], Charts.Height));
        return PanelImage.Save(placed, Charts.Width, Charts.Height, path);
    }
}

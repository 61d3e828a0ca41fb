using System.Text;
using OxyPlot;
using OxyPlot.Axes;
using LMHarness.Plots;

namespace LMHarness.Reports;

/// <summary>One parametrization's sweeps: each width's points (rates x seeds), narrowest first.</summary>
public sealed record WidthSweeps(string Label, IReadOnlyList<(int Width, IReadOnlyList<SweepPoint> Points)> Widths);

/// <summary>
/// What <see cref="LearningRateTransfer"/> says about one parametrization: each width's best rate with its interval,
/// the signed drift of the optimum from the narrowest to the widest in grid steps, the span (widest spread of the
/// optima over all widths, in steps) and the widest model at the narrowest's best rate.
/// </summary>
public sealed record TransferResult(string Label, IReadOnlyList<BestRate> Best, double Drift, double Span, TransferredRate? Transferred)
{
    /// <summary>The analysis of <paramref name="sweeps"/> on a grid of ratio <paramref name="factor"/>.</summary>
    public static TransferResult Of(WidthSweeps sweeps, double factor = 2)
    {
        if (sweeps.Widths.Count < 2) throw new ArgumentException($"{sweeps.Label}: transfer needs at least two widths (got {sweeps.Widths.Count}).");
        var ordered = sweeps.Widths.OrderBy(w => w.Width).ToList();
        var best = ordered.Select(w => LearningRateTransfer.Best(w.Width, w.Points)).ToList();
        var steps = best.Select(b => LearningRateTransfer.GridSteps(best[0].Rate, b.Rate, factor)).ToList();
        return new TransferResult(sweeps.Label, best, steps[^1], steps.Max() - steps.Min(),
            LearningRateTransfer.Transferred(best[0], best[^1], ordered[^1].Points));
    }
}

/// <summary>
/// The transfer recipe's outputs: lr_transfer.md (each width's best rate and interval per parametrization, the widest
/// model at the narrowest's best rate, a headline) and lr_transfer.png (Tensor Programs V's figure 1: final validation
/// loss against the rate, one curve per width, one panel per parametrization side by side on a shared y range).
/// </summary>
public static class LearningRateTransferReport
{
    /// <summary>The headline: per parametrization, how far the optimum moved from the narrowest to the widest width.</summary>
    public static string Headline(IReadOnlyList<TransferResult> results) =>
        "**Headline:** " + string.Join("; ", results.Select(r =>
        {
            var (a, b) = (r.Best[0], r.Best[^1]);
            var t = r.Transferred;
            var transfer = t is null ? "the widest never trained at the narrowest's best rate"
                : $"d_model {b.Width} at {LearningRateTransfer.Rate(t.Rate)}: {Signed(t.Gap)} nats vs its own best " +
                  (double.IsNaN(t.Threshold) ? "(one seed: no noise estimate)" : $"({(t.WithinNoise ? "within" : "outside")} seed noise ±{LearningRateTransfer.F(t.Threshold)})");
            return $"{r.Label}: the best rate moved {Signed(r.Drift, "0.#")} grid step(s) from d_model {a.Width} to {b.Width} " +
                   $"({LearningRateTransfer.Rate(a.Rate)} -> {LearningRateTransfer.Rate(b.Rate)}; span over all widths {r.Span:0.#}), {transfer}";
        })) + ".";

    /// <summary>lr_transfer.md: one table per parametrization, then the headline.</summary>
    public static string Markdown(IReadOnlyList<TransferResult> results)
    {
        var sb = new StringBuilder("# Learning-rate transfer across width\n\n");
        sb.Append("Best rate: lowest mean final validation loss over seeds. Within noise: rates whose mean exceeds the best's by at most ")
          .Append("t(0.975, df) · s_p · √(1/n₁ + 1/n₂), s_p the within-rate seed std pooled over the width's rates (pooled two-sample t).\n\n");
        foreach (var r in results)
        {
            sb.Append($"## {r.Label}\n\n| d_model | best rate | mean loss | rates within noise | interval | steps from narrowest | seed std (df) |\n|---:|---:|---:|---|---|---:|---:|\n");
            foreach (var b in r.Best)
                sb.Append($"| {b.Width} | {LearningRateTransfer.Rate(b.Rate)} | {LearningRateTransfer.F(b.MeanLoss)} | {string.Join(", ", b.WithinNoise.Select(LearningRateTransfer.Rate))} | " +
                          $"{LearningRateTransfer.Rate(b.Low)} .. {LearningRateTransfer.Rate(b.High)} | {Signed(LearningRateTransfer.GridSteps(r.Best[0].Rate, b.Rate), "0.#")} | " +
                          $"{LearningRateTransfer.F(b.Noise)} ({b.NoiseDf}) |\n");
            if (r.Transferred is { } t)
                sb.Append($"\nd_model {r.Best[^1].Width} at d_model {r.Best[0].Width}'s best rate {LearningRateTransfer.Rate(t.Rate)}: {LearningRateTransfer.F(t.Loss)} vs " +
                          $"{LearningRateTransfer.F(t.BestLoss)} at its own best {LearningRateTransfer.Rate(r.Best[^1].Rate)} (gap {Signed(t.Gap)}, seed noise ±{LearningRateTransfer.F(t.Threshold)}).\n");
            sb.Append('\n');
        }
        return sb.Append(Headline(results)).Append('\n').ToString();
    }

    /// <summary>lr_transfer.png: one panel per parametrization (left to right), equal widths, the same y range.</summary>
    public static string Figure(IReadOnlyList<WidthSweeps> sweeps, string path, double? yMax = null)
    {
        if (sweeps.Count == 0) throw new ArgumentException("no sweeps to plot");
        var panels = sweeps.Select(s =>
        {
            var points = s.Widths.OrderBy(w => w.Width).SelectMany(w => w.Points.Select(p => p with { Variant = $"d_model {w.Width}" })).ToList();
            var chart = LearningRateSweepReport.Chart(points, []);
            chart.Title = s.Label;
            // The sweep chart's subtitle is written for a full-width figure; half of one needs a short one.
            chart.Subtitle = $"mean over seeds (band: min to max); star: each width's best rate";
            return chart;
        }).ToList();
        var means = sweeps.SelectMany(s => s.Widths.SelectMany(w => w.Points)).Where(p => p.Finite).SelectMany(p => p.FinalValLosses).ToList();
        foreach (var chart in panels)
        {
            var y = chart.Axes.Single(a => a.Position == AxisPosition.Left);
            y.Minimum = means.Min() - 0.02;
            y.Maximum = Math.Min(means.Max() + 0.02, yMax ?? double.PositiveInfinity);
        }
        int w0 = Charts.Width / panels.Count;
        return PanelImage.Save(panels.Select((p, i) => new PanelImage.Panel(p, i * w0, 0, i == panels.Count - 1 ? Charts.Width - i * w0 : w0, Charts.Height)),
            Charts.Width, Charts.Height, path);
    }

    static string Signed(double v, string format = "F4") => (v > 0 ? "+" : "") + (v == 0 ? "0" : LearningRateTransfer.F(v, format));
}

using System.Globalization;
using System.Text;
using OxyPlot;
using OxyPlot.Annotations;
using LMHarness.Plots;
using LMHarness.Runs;

namespace LMHarness.Reports;

/// <summary>
/// The first evaluation at which a run's validation loss was at or below a target: its step, the training seconds
/// up to it (the train_s column: evaluation and checkpoint time excluded), the evaluation seconds spent so far and the
/// loss. Measured at evaluations only, not interpolated: the time is an upper bound on the true crossing, late by at
/// most one evaluation interval's training time, so evaluate often enough that this interval is small against the
/// times compared.
/// </summary>
public sealed record TargetCrossing(long Step, double TrainSeconds, double EvalSeconds, double ValLoss)
{
    /// <summary>The first row with val_loss ≤ <paramref name="target"/>, else null (never reached).</summary>
    public static TargetCrossing? Of(IReadOnlyList<MetricsRow> rows, double target) =>
        rows.FirstOrDefault(r => r.ValLoss is double v && v <= target) is { } r ? new(r.Step, r.TrainS, r.EvalS, r.ValLoss!.Value) : null;
}

/// <summary>One seed's race to the target: when it got there (null: never), its last validation loss, its totals.</summary>
public sealed record SeedTime(int Seed, TargetCrossing? Crossing, double? FinalValLoss, long Steps, double TrainSeconds, double EvalSeconds);

/// <summary>
/// A variant's seeds raced to a target: each seed's <see cref="SeedTime"/> and, over the seeds that reached it, the
/// mean time with its 95 % t-interval (<see cref="SampleStats"/>; none when no seed reached it).
/// </summary>
public sealed record VariantTime(string Variant, IReadOnlyList<SeedTime> Seeds, SampleStats? Time)
{
    /// <summary>Seeds that reached the target.</summary>
    public int Reached => Seeds.Count(s => s.Crossing is not null);
    /// <summary>Whether every seed reached it.</summary>
    public bool AllReached => Reached == Seeds.Count;
    /// <summary>Mean final validation loss over the seeds that have one.</summary>
    public double? MeanFinalValLoss
    {
        get
        {
            var finals = Seeds.Where(s => s.FinalValLoss is not null).Select(s => s.FinalValLoss!.Value).ToList();
            return finals.Count > 0 ? finals.Average() : null;
        }
    }
}

/// <summary>
/// Time to a target validation loss, per seed and per variant, and how it compares with a baseline: the measure of a
/// speedrun ("how fast does this reach nanoGPT's quality?"). Times are training seconds (train_s); the runs being
/// compared should run side by side, under the same machine load.
/// </summary>
public static class TimeToTarget
{
    /// <summary>Every variant of <paramref name="runs"/> (in order of first appearance) raced to <paramref name="target"/>.</summary>
    public static IReadOnlyList<VariantTime> Of(IReadOnlyList<RunData> runs, double target) =>
        runs.GroupBy(r => r.Variant).Select(g =>
        {
            var seeds = g.Select(r =>
            {
                var last = r.Metrics.Count > 0 ? r.Metrics[^1] : null;
                var final = r.Metrics.LastOrDefault(m => m.ValLoss is double v && double.IsFinite(v))?.ValLoss;
                return new SeedTime(r.Seed, TargetCrossing.Of(r.Metrics, target), final, last?.Step ?? 0, last?.TrainS ?? 0, last?.EvalS ?? 0);
            }).ToList();
            var reached = seeds.Where(s => s.Crossing is not null).Select(s => s.Crossing!.TrainSeconds).ToList();
            return new VariantTime(g.Key, seeds, reached.Count > 0 ? SampleStats.Of(reached) : null);
        }).ToList();

    /// <summary>
    /// <c>speedup vs {label}: X.XXx (A s vs B s to val T)</c>, X = B / A with A the candidate's mean time and B the
    /// baseline's; "n/a" with the reason when a seed of either did not reach the target.
    /// </summary>
    public static string SpeedupLine(VariantTime baseline, VariantTime candidate, double target, string label)
    {
        var t = F(target, 3);
        foreach (var v in new[] { baseline, candidate })
            if (!v.AllReached || v.Time is null)
                return $"speedup vs {label}: n/a ({v.Variant}: {v.Reached} of {v.Seeds.Count} seed(s) reached val {t})";
        double a = candidate.Time!.Mean, b = baseline.Time!.Mean;
        return $"speedup vs {label}: {F(b / a, 2)}x ({F(a, 1)} s vs {F(b, 1)} s to val {t})";
    }

    /// <summary>
    /// A markdown table, one row per variant: seeds that reached the target, time to it (mean and 95 % interval of
    /// the seeds that reached it), each seed's time and step, the ratio baseline time / variant time (the interval's
    /// ends divided into the baseline's mean), the mean final loss and the evaluation seconds excluded.
    /// </summary>
    public static string Markdown(IReadOnlyList<VariantTime> variants, VariantTime baseline, double target)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"Time to val ≤ {F(target, 4)} (training seconds, evaluation excluded; first evaluation at or below the target):\n\n");
        sb.Append("| variant | reached | time to target (s) | 95% CI | per seed: s @ step | speedup vs ").Append(baseline.Variant).Append(" | final val (mean) | eval s (excluded) |\n");
        sb.Append("|---|---|---|---|---|---|---|---|\n");
        foreach (var v in variants)
        {
            var ci = v.Time is { CiLow: double lo, CiHigh: double hi } ? $"{F(lo, 1)} to {F(hi, 1)}" : "";
            var perSeed = string.Join("; ", v.Seeds.Select(s => s.Crossing is { } c ? $"{F(c.TrainSeconds, 1)} @ {c.Step}" : $"not reached ({s.Steps} steps, {F(s.TrainSeconds, 1)} s)"));
            var speedup = baseline.Time is { } b && v.Time is { } a
                ? F(b.Mean / a.Mean, 2) + "x" + (a is { CiLow: double l, CiHigh: double h } && l > 0 ? $" ({F(b.Mean / h, 2)} to {F(b.Mean / l, 2)})" : "")
                : "n/a";
            sb.Append(CultureInfo.InvariantCulture,
                $"| {v.Variant} | {v.Reached}/{v.Seeds.Count} | {(v.Time is { } t ? F(t.Mean, 1) : "n/a")} | {ci} | {perSeed} | {speedup} | {(v.MeanFinalValLoss is double f ? F(f, 4) : "")} | {F(v.Seeds.Average(s => s.EvalSeconds), 1)} |\n");
        }
        return sb.ToString();
    }

    /// <summary>
    /// Validation loss against training seconds (evaluation excluded), one line per variant (mean over seeds at each
    /// evaluation, min..max band), with the target as a dashed line: where a line first dips under it is that
    /// variant's time to target. The y axis spans the region around the target; the early losses run off the top.
    /// </summary>
    public static PlotModel Chart(IReadOnlyList<RunData> runs, double target)
    {
        var vals = runs.SelectMany(r => r.Metrics).Where(m => m.ValLoss is double v && double.IsFinite(v)).Select(m => m.ValLoss!.Value).ToList();
        var y = Charts.YAxis("validation loss (nats/token)", false);
        y.Minimum = Math.Min(target, vals.DefaultIfEmpty(target).Min()) - 0.05;
        y.Maximum = Math.Min(vals.DefaultIfEmpty(target + 1).Max(), target + 0.8) + 0.02;
        var model = Charts.NewModel($"Validation loss vs training time (target {F(target, 3)})", Charts.XAxis("training seconds (evaluation excluded)", false), y,
            "validation loss at each evaluation; lines: mean over seeds, shading: min to max; dashed: the target");
        foreach (var (variant, seeds, color) in Charts.ByVariant(runs))
            Charts.AddMeanAndBand(model, seeds, m => m.TrainS, m => m.ValLoss, $"{variant} ({seeds.Count} seed{(seeds.Count == 1 ? "" : "s")})", color, 3, LineStyle.Solid);
        model.Annotations.Add(new LineAnnotation
        {
            Type = LineAnnotationType.Horizontal, Y = target, Color = OxyColors.Black, LineStyle = LineStyle.Dash, StrokeThickness = 1.5,
            Text = $"target {F(target, 3)}", TextColor = OxyColors.Black, FontSize = 12,
        });
        return model;
    }

    static string F(double x, int digits) => x.ToString("F" + digits, CultureInfo.InvariantCulture);
}

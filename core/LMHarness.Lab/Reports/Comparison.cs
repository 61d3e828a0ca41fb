using System.Globalization;
using System.Text;
using LMHarness.Config;
using LMHarness.IO;
using LMHarness.Plots;
using LMHarness.Runs;
using LMHarness.Tokenizers;

namespace LMHarness.Reports;

/// <summary>
/// The headline numbers of one run, as the comparison tables show them. <see cref="FinalValBpb"/> is null for runs
/// logged without val_bpb; <see cref="Tokenizer"/> describes config.json's data.tokenizer (null when not recorded).
/// </summary>
public sealed record RunRow(
    string Variant, int Seed, double? FinalValLoss, double? BestValLoss, long Tokens, double WallSeconds,
    double TokensPerSecond, long? Params, double PeakRssMb, string Folder,
    double? FinalValBpb = null, double? TrainSeconds = null, double? EvalSeconds = null, string? Tokenizer = null)
{
    /// <summary>Reads the row off a run: last and lowest validation loss, last bits per byte, tokens and seconds at
    /// the last row (wall, training, evaluation), throughput = tokens / training seconds (evaluation excluded),
    /// peak resident memory = max rss_mb.</summary>
    public static RunRow Of(RunData run)
    {
        if (run.Metrics.Count == 0) throw new InvalidDataException($"{run.Folder}/metrics.csv has a header but no rows: the run logged nothing yet.");
        var last = run.Metrics[^1];
        var vals = run.Metrics.Where(m => m.ValLoss is double v && double.IsFinite(v)).Select(m => m.ValLoss!.Value).ToList();
        var bpb = run.Metrics.LastOrDefault(m => m.ValBpb is double b && double.IsFinite(b))?.ValBpb;
        var tokenizer = run.Config?.Data["tokenizer"] is { } t ? TokenizerIdentity.FromJson(t.ToJsonString()).Describe() : null;
        return new RunRow(run.Variant, run.Seed, vals.Count > 0 ? vals[^1] : null, vals.Count > 0 ? vals.Min() : null,
            last.Tokens, last.ElapsedS, last.TrainS > 0 ? last.Tokens / last.TrainS : double.NaN,
            run.Params, run.Metrics.Max(m => m.RssMb), run.Folder, bpb, last.TrainS, last.EvalS, tokenizer);
    }
}

/// <summary>
/// What a caller adds to a comparison: PNGs it drew (embedded in report.html before the standard figures) and titled
/// lists (in comparison.md and report.html, before the config differences).
/// </summary>
public sealed record ComparisonExtras(IReadOnlyList<string> Figures, IReadOnlyList<(string Title, IReadOnlyList<string> Lines)> Sections);

/// <summary>What <see cref="Comparison.Write(IEnumerable{string}, string)"/> produced: the files, the per-run rows and the statistics.</summary>
public sealed record ComparisonReport(string Folder, IReadOnlyList<string> Pngs, string CsvPath, string MarkdownPath, IReadOnlyList<RunRow> Rows,
    string StatisticsCsvPath, string HtmlPath, VariantComparison Statistics)
{
    /// <summary>The resolved winner (see <see cref="VariantComparison.Winner"/>), else null.</summary>
    public string? Winner => Statistics.Winner;

    /// <summary>One sentence: the winner when the data resolve one, else why not and the seeds it would take.</summary>
    public string Headline => Statistics.Headline;

    /// <summary>One line per file written, and the headline.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"comparison in {Folder}:");
        foreach (var f in Pngs.Append(CsvPath).Append(StatisticsCsvPath).Append(MarkdownPath).Append(HtmlPath)) sb.AppendLine($"  {f}");
        if (Statistics.Note is { } note) sb.AppendLine(note);
        sb.AppendLine($"headline: {Headline}");
        return sb.ToString().TrimEnd();
    }
}

/// <summary>
/// Compares any set of run folders: overlaid plots (final metric by variant with seeds and 95 % intervals, loss vs
/// tokens with a zoom on the second half, loss vs wall time, learning rate, throughput, gradient flow per variant),
/// per-run rows (comparison.csv), the statistics of <see cref="VariantComparison"/> (comparison.statistics.csv), the headline,
/// tables and what differs between the variants' configs (comparison.md), and all of it on one self-contained page
/// (report.html).
/// </summary>
public static class Comparison
{
    /// <summary>comparison.csv columns, in order.</summary>
    public static readonly IReadOnlyList<string> CsvColumns =
        ["variant", "seed", "final_val_loss", "best_val_loss", "final_val_bpb", "tokens", "wall_s", "train_s", "eval_s", "tokens_per_s", "params", "peak_rss_mb", "tokenizer", "folder"];

    /// <summary>Loads the run folders and writes the comparison into <paramref name="outDir"/>.</summary>
    public static ComparisonReport Write(IEnumerable<string> runFolders, string outDir) =>
        Write(runFolders.Select(RunData.Load).ToList(), outDir, logAxes: false);

    /// <summary>
    /// Writes the comparison of already-loaded runs; <paramref name="logAxes"/> puts loss vs tokens on log-log axes;
    /// <paramref name="notes"/> (e.g. which runs are new and which reused) are listed under the tables;
    /// <paramref name="baseline"/> names the variant the others are compared against (default: the first);
    /// <paramref name="extras"/> adds figures and titled sections a caller made (a learning-rate sweep's).
    /// </summary>
    public static ComparisonReport Write(IReadOnlyList<RunData> runs, string outDir, bool logAxes, IReadOnlyList<string>? notes = null,
        string? baseline = null, ComparisonExtras? extras = null)
    {
        if (runs.Count == 0) throw new ArgumentException("nothing to compare: pass at least one run folder (runs/<experiment>/<variant>/seed<k>).");
        Directory.CreateDirectory(outDir);
        var rows = runs.Select(RunRow.Of).ToList();
        var stats = VariantComparison.Of(rows, baseline);
        var pngs = new List<string>(extras?.Figures ?? []);
        if (stats.Variants.Count > 0) pngs.Add(Charts.Save(ComparisonFigures.FinalByVariant(stats), Path.Combine(outDir, "final_by_variant.png")));
        pngs.Add(Figures.SavePanels(Figures.LossWithZoom(runs, logAxes), Path.Combine(outDir, "loss_vs_tokens.png")));
        pngs.Add(Charts.Save(Charts.LossVsTime(runs), Path.Combine(outDir, "loss_vs_time.png")));
        pngs.Add(Charts.Save(Charts.LearningRate(runs), Path.Combine(outDir, "lr_schedule.png")));
        pngs.Add(Charts.Save(Charts.Throughput(runs), Path.Combine(outDir, "throughput.png")));
        foreach (var (variant, seeds, _) in Charts.ByVariant(runs))
            if (seeds.FirstOrDefault(s => s.GradFlow.Count > 0) is { } withGrad)
                pngs.Add(Charts.Save(Charts.GradientFlow(withGrad), Path.Combine(outDir, $"gradflow_{Safe(variant)}.png")));
        var configs = ConfigDifferences(runs);
        var csv = AtomicFile.WriteAllText(Path.Combine(outDir, "comparison.csv"), Csv(rows));
        var statsCsv = AtomicFile.WriteAllText(Path.Combine(outDir, "comparison.statistics.csv"), ComparisonTables.StatisticsCsv(stats));
        IReadOnlyList<(string Title, IReadOnlyList<string> Lines)> sections =
            [.. extras?.Sections ?? [], ($"What differs from {configs.Baseline}", configs.Lines), ("Runs", notes ?? [])];
        var md = AtomicFile.WriteAllText(Path.Combine(outDir, "comparison.md"),
            ComparisonTables.Markdown(rows, stats) + string.Concat(sections.Select(s => ListSection(s.Title, s.Lines))));
        var title = $"Comparison: {Path.GetFileName(Path.GetFullPath(outDir).TrimEnd(Path.DirectorySeparatorChar))}";
        var html = AtomicFile.WriteAllText(Path.Combine(outDir, "report.html"), HtmlReport.Render(title, rows, stats, pngs, sections));
        return new ComparisonReport(Path.GetFullPath(outDir), pngs, csv, md, rows, statsCsv, html, stats);
    }

    /// <summary>One line per run, columns <see cref="CsvColumns"/>; empty cells where a value is unknown.</summary>
    public static string Csv(IReadOnlyList<RunRow> rows)
    {
        var sb = new StringBuilder(string.Join(',', CsvColumns)).Append('\n');
        foreach (var r in rows)
            sb.AppendJoin(',', Quote(r.Variant), r.Seed, F(r.FinalValLoss), F(r.BestValLoss), F(r.FinalValBpb), r.Tokens, F(r.WallSeconds),
                F(r.TrainSeconds), F(r.EvalSeconds), F(r.TokensPerSecond), r.Params?.ToString(CultureInfo.InvariantCulture) ?? "", F(r.PeakRssMb),
                Quote(r.Tokenizer ?? ""), Quote(r.Folder)).Append('\n');
        return sb.ToString();
    }

    /// <summary>How each variant's config differs from the first variant's (seeds aside): what the comparison compares.</summary>
    public static (string Baseline, IReadOnlyList<string> Lines) ConfigDifferences(IReadOnlyList<RunData> runs)
    {
        var firsts = runs.Where(r => r.Config is not null).GroupBy(r => r.Variant).Select(g => g.First()).ToList();
        if (firsts.Count < 2) return ("", []);
        var baseline = firsts[0];
        var lines = new List<string>();
        foreach (var run in firsts.Skip(1))
        {
            var differences = ConfigDifference.Between(baseline.Config!.Model, run.Config!.Model)
                .Concat(ConfigDifference.Between(baseline.Config.Training.Substance with { Seed = 0 }, run.Config.Training.Substance with { Seed = 0 }))
                .Concat(ConfigDifference.Between(baseline.Config.Data["identity"], run.Config.Data["identity"], "data.identity"))
                .Concat(ConfigDifference.Between(baseline.Config.Data["stream"], run.Config.Data["stream"], "data.stream"))
                .ToList();
            lines.Add($"{run.Variant}: {(differences.Count == 0 ? "nothing (same configs and data)" : string.Join("; ", differences))}");
        }
        return (baseline.Variant, lines);
    }

    static string ListSection(string title, IReadOnlyList<string>? lines) =>
        lines is null || lines.Count == 0 ? "" : $"### {title}\n\n" + string.Concat(lines.Select(n => $"- {n}\n")) + "\n";

    internal static string F(double? v) => v is double d && double.IsFinite(d) ? d.ToString("R", CultureInfo.InvariantCulture) : "";

    internal static string Quote(string s) => s.IndexOfAny([',', '"', '\n']) >= 0 ? $"\"{s.Replace("\"", "\"\"")}\"" : s;

    static string Safe(string name) => string.Concat(name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));
}

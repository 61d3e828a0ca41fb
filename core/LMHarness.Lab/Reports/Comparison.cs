using System.Globalization;
using System.Text;
using LMHarness.Config;
using LMHarness.IO;
using LMHarness.Plots;
using LMHarness.Runs;

namespace LMHarness.Reports;

/// <summary>The headline numbers of one run, as the comparison tables show them.</summary>
public sealed record RunRow(
    string Variant, int Seed, double? FinalValLoss, double? BestValLoss, long Tokens, double WallSeconds,
    double TokensPerSecond, long? Params, double PeakRssMb, string Folder)
{
    /// <summary>Reads the row off a run: last and lowest validation loss, tokens and seconds at the last row,
    /// throughput = tokens / training seconds (evaluation excluded), peak resident memory = max rss_mb.</summary>
    public static RunRow Of(RunData run)
    {
        if (run.Metrics.Count == 0) throw new InvalidDataException($"{run.Folder}/metrics.csv has a header but no rows: the run logged nothing yet.");
        var last = run.Metrics[^1];
        var vals = run.Metrics.Where(m => m.ValLoss is double v && double.IsFinite(v)).Select(m => m.ValLoss!.Value).ToList();
        return new RunRow(run.Variant, run.Seed, vals.Count > 0 ? vals[^1] : null, vals.Count > 0 ? vals.Min() : null,
            last.Tokens, last.ElapsedS, last.TrainS > 0 ? last.Tokens / last.TrainS : double.NaN,
            run.Params, run.Metrics.Max(m => m.RssMb), run.Folder);
    }
}

/// <summary>What <see cref="Comparison.Write(IEnumerable{string}, string)"/> produced: the files and the per-run rows.</summary>
public sealed record ComparisonReport(string Folder, IReadOnlyList<string> Pngs, string CsvPath, string MarkdownPath, IReadOnlyList<RunRow> Rows)
{
    /// <summary>The variant with the lowest mean final validation loss, with that loss.</summary>
    public (string Variant, double ValLoss)? Best =>
        Rows.Where(r => r.FinalValLoss is not null).GroupBy(r => r.Variant)
            .Select(g => (g.Key, g.Average(r => r.FinalValLoss!.Value)))
            .OrderBy(v => v.Item2).Cast<(string, double)?>().FirstOrDefault();

    /// <summary>One line per file written, and the winner.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"comparison in {Folder}:");
        foreach (var f in Pngs.Append(CsvPath).Append(MarkdownPath)) sb.AppendLine($"  {f}");
        if (Best is { } b) sb.AppendLine($"lowest final val loss: {b.Variant} ({b.ValLoss:F4})");
        return sb.ToString().TrimEnd();
    }
}

/// <summary>
/// Compares any set of run folders: overlaid plots (loss vs tokens, loss vs wall time, learning rate, throughput,
/// gradient flow per variant) and a table as CSV (comparison.csv, one row per run) and Markdown (comparison.md, one row per variant:
/// mean and +/- half-range over its seeds).
/// </summary>
public static class Comparison
{
    /// <summary>comparison.csv columns, in order.</summary>
    public static readonly IReadOnlyList<string> CsvColumns =
        ["variant", "seed", "final_val_loss", "best_val_loss", "tokens", "wall_s", "tokens_per_s", "params", "peak_rss_mb", "folder"];

    /// <summary>Loads the run folders and writes the comparison into <paramref name="outDir"/>.</summary>
    public static ComparisonReport Write(IEnumerable<string> runFolders, string outDir) =>
        Write(runFolders.Select(RunData.Load).ToList(), outDir, logAxes: false);

    /// <summary>Writes the comparison of already-loaded runs; <paramref name="logAxes"/> puts loss vs tokens on log-log axes;
    /// <paramref name="notes"/> (e.g. which runs are new and which reused) are listed under the table.</summary>
    public static ComparisonReport Write(IReadOnlyList<RunData> runs, string outDir, bool logAxes, IReadOnlyList<string>? notes = null)
    {
        if (runs.Count == 0) throw new ArgumentException("nothing to compare: pass at least one run folder (runs/<experiment>/<variant>/seed<k>).");
        Directory.CreateDirectory(outDir);
        var pngs = new List<string>
        {
            Charts.Save(Charts.LossVsTokens(runs, logAxes, logAxes), Path.Combine(outDir, "loss_vs_tokens.png")),
            Charts.Save(Charts.LossVsTime(runs), Path.Combine(outDir, "loss_vs_time.png")),
            Charts.Save(Charts.LearningRate(runs), Path.Combine(outDir, "lr_schedule.png")),
            Charts.Save(Charts.Throughput(runs), Path.Combine(outDir, "throughput.png")),
        };
        foreach (var (variant, seeds, _) in Charts.ByVariant(runs))
            if (seeds.FirstOrDefault(s => s.GradFlow.Count > 0) is { } withGrad)
                pngs.Add(Charts.Save(Charts.GradientFlow(withGrad), Path.Combine(outDir, $"gradflow_{Safe(variant)}.png")));
        var rows = runs.Select(RunRow.Of).ToList();
        var csv = AtomicFile.WriteAllText(Path.Combine(outDir, "comparison.csv"), Csv(rows));
        var md = AtomicFile.WriteAllText(Path.Combine(outDir, "comparison.md"), Markdown(rows) + ConfigSection(runs) + NotesSection(notes));
        return new ComparisonReport(Path.GetFullPath(outDir), pngs, csv, md, rows);
    }

    /// <summary>One line per run, columns <see cref="CsvColumns"/>; empty cells where a value is unknown.</summary>
    public static string Csv(IReadOnlyList<RunRow> rows)
    {
        var sb = new StringBuilder(string.Join(',', CsvColumns)).Append('\n');
        foreach (var r in rows)
            sb.AppendJoin(',', Quote(r.Variant), r.Seed, F(r.FinalValLoss), F(r.BestValLoss), r.Tokens, F(r.WallSeconds),
                F(r.TokensPerSecond), r.Params?.ToString(CultureInfo.InvariantCulture) ?? "", F(r.PeakRssMb), Quote(r.Folder)).Append('\n');
        return sb.ToString();
    }

    /// <summary>One row per variant: mean over seeds, "+/- half the range" when there are several.</summary>
    public static string Markdown(IReadOnlyList<RunRow> rows)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| variant | seeds | final val loss | best val loss | tokens | wall time (s) | tokens/s | params | peak RSS (MB) |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var g in rows.GroupBy(r => r.Variant))
        {
            var runs = g.ToList();
            sb.AppendLine($"| {g.Key} | {runs.Count} | {Spread(runs, r => r.FinalValLoss, "F4")} | {Spread(runs, r => r.BestValLoss, "F4")} | " +
                $"{runs.Average(r => (double)r.Tokens).ToString("N0", CultureInfo.InvariantCulture)} | {Spread(runs, r => r.WallSeconds, "F1")} | " +
                $"{Spread(runs, r => r.TokensPerSecond, "N0")} | {(runs[0].Params is long p ? p.ToString("N0", CultureInfo.InvariantCulture) : "-")} | " +
                $"{Spread(runs, r => r.PeakRssMb, "F0")} |");
        }
        return sb.ToString();
    }

    /// <summary>How each variant's config differs from the first variant's (seeds aside): what the comparison compares.</summary>
    public static string ConfigSection(IReadOnlyList<RunData> runs)
    {
        var firsts = runs.Where(r => r.Config is not null).GroupBy(r => r.Variant).Select(g => g.First()).ToList();
        if (firsts.Count < 2) return "";
        var baseline = firsts[0];
        var sb = new StringBuilder($"\n## What differs from {baseline.Variant}\n\n");
        foreach (var run in firsts.Skip(1))
        {
            var differences = ConfigDifference.Between(baseline.Config!.Model, run.Config!.Model)
                .Concat(ConfigDifference.Between(baseline.Config.Training.Substance with { Seed = 0 }, run.Config.Training.Substance with { Seed = 0 }))
                .Concat(ConfigDifference.Between(baseline.Config.Data["identity"], run.Config.Data["identity"], "data.identity"))
                .Concat(ConfigDifference.Between(baseline.Config.Data["stream"], run.Config.Data["stream"], "data.stream"))
                .ToList();
            sb.AppendLine($"- {run.Variant}: {(differences.Count == 0 ? "nothing (same configs and data)" : string.Join("; ", differences))}");
        }
        return sb.ToString();
    }

    static string NotesSection(IReadOnlyList<string>? notes) =>
        notes is null || notes.Count == 0 ? "" : "\n## Runs\n\n" + string.Concat(notes.Select(n => $"- {n}\n"));

    static string Spread(IReadOnlyList<RunRow> runs, Func<RunRow, double?> value, string format)
    {
        var v = runs.Select(value).Where(x => x is double d && double.IsFinite(d)).Select(x => x!.Value).ToList();
        if (v.Count == 0) return "-";
        var mean = v.Average().ToString(format, CultureInfo.InvariantCulture);
        return v.Count == 1 ? mean : $"{mean} ± {((v.Max() - v.Min()) / 2).ToString(format, CultureInfo.InvariantCulture)}";
    }

    static string F(double? v) => v is double d && double.IsFinite(d) ? d.ToString("R", CultureInfo.InvariantCulture) : "";

    static string Quote(string s) => s.IndexOfAny([',', '"', '\n']) >= 0 ? $"\"{s.Replace("\"", "\"\"")}\"" : s;

    static string Safe(string name) => string.Concat(name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));

}

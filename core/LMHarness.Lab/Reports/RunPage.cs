using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LMHarness.Config;
using LMHarness.IO;
using LMHarness.Plots;
using LMHarness.Runs;

namespace LMHarness.Reports;

/// <summary>
/// One run's own page, written into its folder (what train.csx makes of a single run; comparisons need two or more):
/// loss_vs_tokens.png (with the zoom on the second half), lr_schedule.png, throughput.png, gradflow.png (when the run
/// logged gradient flow) and report.html: the run's numbers, its configuration and those figures on one
/// self-contained page.
/// </summary>
public static class RunPage
{
    /// <summary>The files an earlier train.csx wrote into a run folder, a comparison of this one run with itself.</summary>
    static readonly string[] OneRunComparison = ["comparison.csv", "comparison.statistics.csv", "comparison.md", "final_by_variant.png"];

    /// <summary>Writes the plots and report.html of the run in <paramref name="runFolder"/> into that folder.</summary>
    public static RunPageReport Write(string runFolder)
    {
        var run = RunData.Load(runFolder);
        var row = RunRow.Of(run);
        var folder = Path.GetFullPath(runFolder);
        IReadOnlyList<RunData> one = [run];
        var pngs = new List<string>
        {
            Figures.SavePanels(Figures.LossWithZoom(one, false), Path.Combine(folder, "loss_vs_tokens.png")),
            Charts.Save(Charts.LearningRate(one), Path.Combine(folder, "lr_schedule.png")),
            Charts.Save(Charts.Throughput(one), Path.Combine(folder, "throughput.png")),
        };
        if (run.GradFlow.Count > 0) pngs.Add(Charts.Save(Charts.GradientFlow(run), Path.Combine(folder, "gradflow.png")));
        foreach (var stale in OneRunComparison) File.Delete(Path.Combine(folder, stale)); // they described this run as a comparison of one
        var html = AtomicFile.WriteAllText(Path.Combine(folder, "report.html"), Render(run, row, pngs));
        return new RunPageReport(folder, pngs, html, row);
    }

    static string Render(RunData run, RunRow row, IReadOnlyList<string> pngs)
    {
        // A folder named seed<k> is known by its variant too (runs/train/nanogpt-cpu/seed1337); any other by its name.
        var name = Path.GetFileName(run.Folder.TrimEnd(Path.DirectorySeparatorChar));
        var title = $"Run: {(name.StartsWith("seed", StringComparison.Ordinal) ? run.Label : name)}";
        var sb = new StringBuilder();
        HtmlReport.AppendHead(sb, title);
        sb.AppendLine("</head><body>");
        sb.Append("<h1>").Append(HtmlReport.E(title)).AppendLine("</h1>");
        sb.Append("<p class=\"headline\">").Append(HtmlReport.E(Headline(run, row))).AppendLine("</p>");
        HtmlReport.AppendTable(sb, Result(run, row));
        if (run.Config is { } config)
        {
            HtmlReport.AppendTable(sb, Settings("Model", JsonSerializer.SerializeToNode(config.Model, ModelConfig.Json)!.AsObject()));
            HtmlReport.AppendTable(sb, Settings("Training", JsonSerializer.SerializeToNode(config.Training, TrainingConfig.Json)!.AsObject()));
            HtmlReport.AppendTable(sb, Settings("Data", config.Data));
        }
        sb.AppendLine("<h2>Figures</h2>");
        foreach (var png in pngs) HtmlReport.AppendFigure(sb, png);
        sb.AppendLine("</body></html>");
        return sb.ToString();
    }

    /// <summary>One sentence: where the run ended and what it cost.</summary>
    static string Headline(RunData run, RunRow row)
    {
        var steps = run.Result is { } r ? $"{r.Steps:N0} of {r.TotalSteps:N0} steps{(r.Interrupted ? " (interrupted)" : "")}" : $"{run.Metrics[^1].Step:N0} steps (no result.json yet)";
        var loss = row.FinalValLoss is double v
            ? $"final validation loss {HtmlReport.Num(v, "F4")} nats/token (best {HtmlReport.Num(row.BestValLoss, "F4")}{(row.FinalValBpb is double b ? $", {HtmlReport.Num(b, "F4")} bits/byte" : "")})"
            : "no validation loss logged";
        return $"{steps}: {loss}; {row.Tokens:N0} tokens in {HtmlReport.Num(row.TrainSeconds, "F1")} s of training, {HtmlReport.Num(row.TokensPerSecond, "N0")} tokens/s.";
    }

    static ComparisonTables.Table Result(RunData run, RunRow row)
    {
        var r = run.Result;
        (string, string)[] items =
        [
            ("final val loss", HtmlReport.Num(row.FinalValLoss, "F4")), ("best val loss", HtmlReport.Num(row.BestValLoss, "F4")),
            ("final val bits/byte", HtmlReport.Num(row.FinalValBpb, "F4")), ("final train loss", HtmlReport.Num(r?.FinalTrainLoss, "F4")),
            ("steps", r is null ? "-" : $"{r.Steps:N0} / {r.TotalSteps:N0}"), ("tokens", HtmlReport.Num(row.Tokens, "N0")),
            ("parameters", row.Params is long p ? p.ToString("N0", CultureInfo.InvariantCulture) : "-"),
            ("tokens/s (training time)", HtmlReport.Num(row.TokensPerSecond, "N0")), ("ms/step", HtmlReport.Num(r?.MsPerStep, "F1")),
            ("training s", HtmlReport.Num(row.TrainSeconds, "F1")), ("evaluation s", HtmlReport.Num(row.EvalSeconds, "F1")),
            ("wall s", HtmlReport.Num(row.WallSeconds, "F1")), ("peak RSS MB", HtmlReport.Num(row.PeakRssMb, "F0")),
            ("tokenizer", row.Tokenizer ?? "-"), ("folder", row.Folder),
        ];
        return new ComparisonTables.Table("Result", ["measure", "value"], [false, true], [.. items.Select(i => (IReadOnlyList<string>)[i.Item1, i.Item2])]);
    }

    static ComparisonTables.Table Settings(string title, JsonObject values) =>
        new(title, ["setting", "value"], [false, false],
            [.. values.Select(kv => (IReadOnlyList<string>)[kv.Key, kv.Value is JsonValue v && v.TryGetValue<string>(out var s) ? s : kv.Value?.ToJsonString() ?? "null"])]);
}

using System.Text;

namespace LMHarness.Reports;

/// <summary>
/// report.html: one self-contained page per comparison, openable from a file browser with nothing beside it: the
/// headline, the tables of <see cref="ComparisonTables"/>, every PNG embedded as a base64 data URI, and the per-run
/// rows. Written as well-formed XHTML-compatible HTML5 (every element closed, only the XML entities), so any XML
/// parser can check it.
/// </summary>
public static class HtmlReport
{
    // What each standard figure shows, by file-name prefix; other PNGs are captioned by their file name.
    static readonly (string Prefix, string Caption)[] Captions =
    [
        ("lr_sweep", "Final validation loss against the learning rate, per variant: mean over seeds, min-to-max band, a star on each variant's best rate."),
        ("final_by_variant", "Final metric by variant: a dot per seed, the mean (diamond) and its 95% t-interval (bars)."),
        ("loss_vs_tokens", "Loss against tokens seen; right: the second half of training, validation only, where the differences live."),
        ("loss_vs_time", "Loss against wall-clock time."),
        ("lr_schedule", "The learning rate used at each step."),
        ("throughput", "Training throughput: training tokens per second of training time."),
        ("gradflow", "Gradient flow at the last logged step: mean and max |gradient| per parameter tensor."),
    ];

    /// <summary>
    /// The page for <paramref name="rows"/> and <paramref name="stats"/> with <paramref name="pngs"/> embedded (read now);
    /// <paramref name="sections"/> are titled lists (what differs between the variants, notes on the runs), left out when empty.
    /// </summary>
    public static string Render(string title, IReadOnlyList<RunRow> rows, VariantComparison stats, IReadOnlyList<string> pngs,
        IReadOnlyList<(string Title, IReadOnlyList<string> Lines)>? sections = null)
    {
        var sb = new StringBuilder();
        AppendHead(sb, title);
        sb.AppendLine("</head><body>");
        sb.Append("<h1>").Append(E(title)).AppendLine("</h1>");
        sb.Append("<p class=\"headline\"><strong>Headline:</strong> ").Append(E(stats.Headline)).AppendLine("</p>");
        if (stats.Note is { } note) sb.Append("<p class=\"note\">").Append(E(note)).AppendLine("</p>");
        foreach (var table in ComparisonTables.Of(rows, stats)) AppendTable(sb, table);
        sb.AppendLine("<p class=\"method\">Intervals are 95% Student-t intervals of the mean over seeds; differences use Welch's t-test " +
            "(Welch–Satterthwaite degrees of freedom). A winner is named only when the 95% interval of the best variant's lead over the runner-up " +
            "excludes zero. Seeds to resolve: the smallest n per variant at which a two-sample t-test (α = 0.05, power 0.8, pooled standard " +
            "deviation of the two variants) detects a true gap of the observed size.</p>");
        foreach (var (heading, lines) in sections ?? [])
        {
            if (lines.Count == 0) continue;
            sb.Append("<h2>").Append(E(heading)).AppendLine("</h2><ul>");
            foreach (var line in lines) sb.Append("<li>").Append(E(line)).AppendLine("</li>");
            sb.AppendLine("</ul>");
        }
        sb.AppendLine("<h2>Figures</h2>");
        foreach (var png in pngs) AppendFigure(sb, png);
        AppendTable(sb, new ComparisonTables.Table("Runs", ["variant", "seed", "final val loss", "best val loss", "final val bpb", "tokens", "train s", "eval s", "wall s", "folder"],
            [false, true, true, true, true, true, true, true, true, false],
            [.. rows.Select(r => (IReadOnlyList<string>)[r.Variant, r.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture), Num(r.FinalValLoss, "F4"),
                Num(r.BestValLoss, "F4"), Num(r.FinalValBpb, "F4"), Num(r.Tokens, "N0"), Num(r.TrainSeconds, "F1"), Num(r.EvalSeconds, "F1"),
                Num(r.WallSeconds, "F1"), r.Folder])]));
        sb.AppendLine("</body></html>");
        return sb.ToString();
    }

    /// <summary>The doctype, title and style every page shares, up to the closing head tag.</summary>
    internal static void AppendHead(StringBuilder sb, string title)
    {
        sb.AppendLine("<!DOCTYPE html>");
        sb.AppendLine("<html lang=\"en\"><head><meta charset=\"utf-8\"/>");
        sb.Append("<title>").Append(E(title)).AppendLine("</title>");
        sb.AppendLine("""
            <style>
            body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; max-width: 1250px; margin: 2em auto; padding: 0 1em; color: #222; }
            .headline { font-size: 1.15em; background: #f3f6fa; border-left: 5px solid #1f77b4; padding: 0.8em 1em; }
            .note { background: #fff7e6; border-left: 5px solid #ff7f0e; padding: 0.6em 1em; }
            table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
            th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; }
            th { background: #f0f0f0; }
            td.num { text-align: right; font-variant-numeric: tabular-nums; }
            figure { margin: 1.5em 0; }
            figure img { width: 100%; height: auto; border: 1px solid #ddd; }
            figcaption { color: #555; margin-top: 0.3em; }
            .method { color: #555; font-size: 0.9em; }
            </style>
            """);
    }

    /// <summary>A PNG embedded as a data URI, captioned by what its file name says it shows.</summary>
    internal static void AppendFigure(StringBuilder sb, string png)
    {
        var name = Path.GetFileName(png);
        var caption = Captions.FirstOrDefault(c => name.StartsWith(c.Prefix, StringComparison.Ordinal)).Caption ?? name;
        sb.Append("<figure><img alt=\"").Append(E(name)).Append("\" src=\"data:image/png;base64,")
            .Append(Convert.ToBase64String(File.ReadAllBytes(png))).Append("\"/>")
            .Append("<figcaption>").Append(E(name)).Append(": ").Append(E(caption)).AppendLine("</figcaption></figure>");
    }

    internal static void AppendTable(StringBuilder sb, ComparisonTables.Table table)
    {
        sb.Append("<h2>").Append(E(table.Title)).AppendLine("</h2>");
        sb.Append("<table><thead><tr>");
        foreach (var h in table.Header) sb.Append("<th>").Append(E(h)).Append("</th>");
        sb.AppendLine("</tr></thead><tbody>");
        foreach (var row in table.Rows)
        {
            sb.Append("<tr>");
            for (int i = 0; i < row.Count; i++)
                sb.Append(table.RightAligned[i] ? "<td class=\"num\">" : "<td>").Append(E(row[i])).Append("</td>");
            sb.AppendLine("</tr>");
        }
        sb.AppendLine("</tbody></table>");
    }

    internal static string Num(double? v, string format) =>
        v is double d && double.IsFinite(d) ? d.ToString(format, System.Globalization.CultureInfo.InvariantCulture) : "-";

    /// <summary>Escapes text for element content and attribute values (the four characters XML and HTML both need escaped).</summary>
    internal static string E(string text) => text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&quot;");
}

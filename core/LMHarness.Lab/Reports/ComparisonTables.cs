using System.Globalization;
using System.Text;

namespace LMHarness.Reports;

/// <summary>
/// The comparison's tables as data (<see cref="Table"/>), rendered as Markdown (comparison.md), HTML (report.html)
/// and CSV (comparison.statistics.csv): the final metric per variant (n, mean, std, 95 % interval), each variant against the
/// baseline (difference, 95 % interval, Welch p, seeds to resolve) and the cost of each variant (means over seeds).
/// </summary>
public static class ComparisonTables
{
    /// <summary>A titled table of text cells; <see cref="RightAligned"/> marks numeric columns.</summary>
    public sealed record Table(string Title, IReadOnlyList<string> Header, IReadOnlyList<bool> RightAligned, IReadOnlyList<IReadOnlyList<string>> Rows);

    /// <summary>comparison.statistics.csv columns, in order.</summary>
    public static readonly IReadOnlyList<string> StatisticsColumns =
        ["variant", "metric", "n", "mean", "std", "ci_low", "ci_high", "diff_vs_baseline", "diff_ci_low", "diff_ci_high", "welch_df", "welch_p", "seeds_to_resolve"];

    /// <summary>The three tables, in reading order (the first two only when some variant has a result).</summary>
    public static IReadOnlyList<Table> Of(IReadOnlyList<RunRow> rows, VariantComparison stats)
    {
        var tables = new List<Table>();
        if (stats.Variants.Count > 0)
        {
            bool bpb = stats.Metric == VariantComparison.ValLoss && rows.Any(r => r.FinalValBpb is not null);
            var perVariant = stats.Variants.Select(v =>
            {
                var s = v.Stats;
                var cells = new List<string>
                {
                    v.Variant, s.N.ToString(CultureInfo.InvariantCulture), F(s.Mean), s.Std is double sd ? F(sd) : "-",
                    s.CiLow is double lo && s.CiHigh is double hi ? $"[{F(lo)}, {F(hi)}]" : "n = 1: no interval",
                };
                if (bpb) cells.Add(Mean(rows.Where(r => r.Variant == v.Variant).Select(r => r.FinalValBpb), "F4"));
                return (IReadOnlyList<string>)cells;
            }).ToList();
            tables.Add(new Table($"{Capital(stats.Metric)} by variant (95% t-interval of the mean over seeds)",
                ["variant", "seeds", "mean", "std", "95% CI", .. bpb ? new[] { "val bits/byte" } : []],
                [false, true, true, true, true, .. bpb ? new[] { true } : []], perVariant));
            if (stats.VsBaseline.Count > 0)
                tables.Add(new Table($"Against the baseline {stats.Baseline}: variant minus baseline (negative = lower {stats.Metric})",
                    ["variant", "difference", "95% CI", "Welch p", "seeds per variant to resolve"], [false, true, true, true, true],
                    [.. stats.VsBaseline.Select(d => (IReadOnlyList<string>)(d.Test is { } t
                        ? [d.Variant, Signed(t.Difference), $"[{Signed(t.CiLow)}, {Signed(t.CiHigh)}]", VariantComparison.P(t.P),
                            t.Resolved ? "resolved" : d.SeedsToResolve is int n ? $"~{n}" : $"> {PowerAnalysis.MaxSeeds:N0}"]
                        : [d.Variant, Signed(d.Difference), "-", "-", "needs 2+ seeds with spread"]))]));
        }
        var cost = rows.GroupBy(r => r.Variant).Select(g => (IReadOnlyList<string>)
        [
            g.Key, g.First().Params is long p ? p.ToString("N0", CultureInfo.InvariantCulture) : "-", Mean(g.Select(r => (double?)r.Tokens), "N0"),
            Mean(g.Select(r => r.TrainSeconds), "F1"), Mean(g.Select(r => r.EvalSeconds), "F1"), Mean(g.Select(r => (double?)r.WallSeconds), "F1"),
            Mean(g.Select(r => (double?)r.TokensPerSecond), "N0"), Mean(g.Select(r => (double?)r.PeakRssMb), "F0"),
        ]).ToList();
        tables.Add(new Table("Cost (means over seeds; train tokens/s = training tokens per second of training time)",
            ["variant", "params", "tokens", "train time (s)", "eval time (s)", "wall time (s)", "train tokens/s", "peak RSS (MB)"],
            [false, true, true, true, true, true, true, true], cost));
        return tables;
    }

    /// <summary>comparison.md: the headline, the notes when there are any, then the tables.</summary>
    public static string Markdown(IReadOnlyList<RunRow> rows, VariantComparison stats)
    {
        var sb = new StringBuilder();
        sb.Append("**Headline:** ").AppendLine(stats.Headline).AppendLine();
        if (stats.Note is { } note) sb.Append("> ").AppendLine(note).AppendLine();
        foreach (var t in Of(rows, stats))
        {
            sb.Append("### ").AppendLine(t.Title).AppendLine();
            sb.Append("| ").AppendJoin(" | ", t.Header).AppendLine(" |");
            sb.Append('|').AppendJoin("|", t.RightAligned.Select(r => r ? "---:" : "---")).AppendLine("|");
            foreach (var row in t.Rows) sb.Append("| ").AppendJoin(" | ", row).AppendLine(" |");
            sb.AppendLine();
        }
        return sb.ToString();
    }

    /// <summary>One line per variant, columns <see cref="StatisticsColumns"/>; the baseline's difference cells are empty.</summary>
    public static string StatisticsCsv(VariantComparison stats)
    {
        var sb = new StringBuilder(string.Join(',', StatisticsColumns)).Append('\n');
        var metric = stats.Metric == VariantComparison.ValBpb ? "final_val_bpb" : "final_val_loss";
        foreach (var v in stats.Variants)
        {
            var d = stats.VsBaseline.FirstOrDefault(x => x.Variant == v.Variant);
            var t = d?.Test;
            sb.AppendJoin(',', Comparison.Quote(v.Variant), metric, v.Stats.N, R(v.Stats.Mean), R(v.Stats.Std), R(v.Stats.CiLow), R(v.Stats.CiHigh),
                R(d?.Difference), R(t?.CiLow), R(t?.CiHigh), R(t?.Df), R(t?.P), d?.SeedsToResolve?.ToString(CultureInfo.InvariantCulture) ?? "").Append('\n');
        }
        return sb.ToString();
    }

    static string R(double? v) => Comparison.F(v);

    static string F(double v) => VariantComparison.F(v);

    static string Signed(double v) => (v >= 0 ? "+" : "") + F(v);

    static string Capital(string s) => char.ToUpperInvariant(s[0]) + s[1..];

    static string Mean(IEnumerable<double?> values, string format)
    {
        var v = values.OfType<double>().Where(double.IsFinite).ToList();
        return v.Count == 0 ? "-" : v.Average().ToString(format, CultureInfo.InvariantCulture);
    }
}

using System.Globalization;

namespace LMHarness.Reports;

/// <summary>One variant's final metric over its seeds: the values (in seed order) and their statistics.</summary>
public sealed record VariantResult(string Variant, IReadOnlyList<double> Values, SampleStats Stats);

/// <summary>
/// A variant against the baseline: the difference of means, variant minus baseline (negative = lower loss than the
/// baseline); Welch's test when both have 2+ seeds with spread; the seeds per variant a true gap this size would need.
/// </summary>
public sealed record BaselineDifference(string Variant, double Difference, WelchTest? Test, int? SeedsToResolve);

/// <summary>
/// What a set of runs supports about "which variant is best?": per variant the final metric's n, mean, std and
/// 95 % t-interval (<see cref="SampleStats"/>); each variant against the baseline (<see cref="BaselineDifference"/>:
/// difference, its 95 % interval, Welch's p); and a headline that names a winner only when the 95 % interval of
/// the best variant's lead over the runner-up excludes zero. Otherwise the headline says the difference is not
/// resolved with the seeds run and estimates the seeds per variant a true gap of the observed size would need
/// (<see cref="PowerAnalysis"/>: two-sample t-test, α = 0.05, power 0.8, the pooled std of the two variants).
/// <para>The metric is the final validation loss (nats per token) when every run used one tokenizer, and the
/// final validation bits per byte when tokenizers differ: nats per token of different tokenizers measure
/// different things (a GPT-2 token holds ~4 bytes, a char token 1), bits per byte do not.</para>
/// </summary>
public sealed class VariantComparison
{
    VariantComparison(string metric, string baseline, IReadOnlyList<VariantResult> variants, IReadOnlyList<BaselineDifference> vsBaseline,
        string headline, string? winner, string? note)
    {
        Metric = metric;
        Baseline = baseline;
        Variants = variants;
        VsBaseline = vsBaseline;
        Headline = headline;
        Winner = winner;
        Note = note;
    }

    /// <summary>The metric compared: <see cref="ValLoss"/> or <see cref="ValBpb"/>.</summary>
    public string Metric { get; }
    /// <summary>The variant every other is compared against: the one named, else the first.</summary>
    public string Baseline { get; }
    /// <summary>Variants with a final value, in order of first appearance.</summary>
    public IReadOnlyList<VariantResult> Variants { get; }
    /// <summary>Every other variant minus the baseline.</summary>
    public IReadOnlyList<BaselineDifference> VsBaseline { get; }
    /// <summary>One sentence: the resolved winner, or why there is none.</summary>
    public string Headline { get; }
    /// <summary>The variant with the lowest mean when its lead over the runner-up is resolved; otherwise null.</summary>
    public string? Winner { get; }
    /// <summary>What the reader must know to read the numbers, when something needs saying (mixed tokenizers, unequal tokens trained); else null.</summary>
    public string? Note { get; }

    /// <summary>Metric names, as the tables print them.</summary>
    public const string ValLoss = "final val loss (nats/token)", ValBpb = "final val bits per byte";

    /// <summary>
    /// Compares the runs' final values: validation loss when all runs share one tokenizer, bits per byte when they
    /// do not (every run then needs val_bpb). <paramref name="baseline"/> names the baseline variant (default: the first).
    /// </summary>
    public static VariantComparison Of(IReadOnlyList<RunRow> rows, string? baseline = null)
    {
        var tokenizers = rows.Select(r => r.Tokenizer).OfType<string>().Distinct().ToList();
        bool mixed = tokenizers.Count > 1;
        var notes = new List<string>();
        if (mixed)
            notes.Add($"The runs use {tokenizers.Count} tokenizers ({string.Join("; ", tokenizers)}): ranked by bits per byte only, since nats per token mean different things under different tokenizers (and equal token counts are unequal amounts of text).");
        if (rows.Select(r => r.Tokens).Distinct().Count() > 1)
            notes.Add($"The runs trained on different numbers of tokens ({rows.Min(r => r.Tokens):N0} to {rows.Max(r => r.Tokens):N0}): their final values compare unequal training.");
        string? note = notes.Count > 0 ? string.Join(" ", notes) : null;
        var metric = mixed ? ValBpb : ValLoss;
        Func<RunRow, double?> value = mixed ? r => r.FinalValBpb : r => r.FinalValLoss;
        if (mixed && rows.FirstOrDefault(r => value(r) is null) is { } lacking)
            return new VariantComparison(metric, baseline ?? rows[0].Variant, [], [],
                $"No ranking: the runs use different tokenizers and {lacking.Folder} has no val_bpb, so there is no unit they share. Re-evaluate the runs with bits per byte.", null, note);

        var variants = rows.GroupBy(r => r.Variant)
            .Select(g => (g.Key, Values: g.Select(value).OfType<double>().Where(double.IsFinite).ToList()))
            .Where(g => g.Values.Count > 0)
            .Select(g => new VariantResult(g.Key, g.Values, SampleStats.Of(g.Values)))
            .ToList();
        if (variants.Count == 0)
            return new VariantComparison(metric, baseline ?? rows[0].Variant, [], [], $"No ranking: no run has a finite {metric} (none evaluated yet, or all diverged).", null, note);
        var baseName = baseline ?? variants[0].Variant;
        var reference = variants.FirstOrDefault(v => v.Variant == baseName)
            ?? throw new ArgumentException($"baseline '{baseName}' is not among the variants with results ({string.Join(", ", variants.Select(v => v.Variant))}).");
        var vs = variants.Where(v => v != reference).Select(v => Against(v, reference)).ToList();
        var (headline, winner) = Verdict(variants, metric);
        return new VariantComparison(metric, baseName, variants, vs, headline, winner, note);
    }

    static BaselineDifference Against(VariantResult v, VariantResult reference) =>
        new(v.Variant, v.Stats.Mean - reference.Stats.Mean, WelchTest.Of(v.Stats, reference.Stats),
            SampleStats.PooledStd(v.Stats, reference.Stats) is double s ? PowerAnalysis.SeedsPerVariant(v.Stats.Mean - reference.Stats.Mean, s) : null);

    // The best (lowest mean) against the runner-up: a winner only when the interval of their difference excludes 0.
    static (string Headline, string? Winner) Verdict(IReadOnlyList<VariantResult> variants, string metric)
    {
        var ranked = variants.OrderBy(v => v.Stats.Mean).ToList();
        var best = ranked[0];
        if (ranked.Count == 1) return ($"Only {best.Variant} has results ({metric} {Describe(best.Stats)}): nothing to compare.", null);
        var second = ranked[1];
        var pair = $"{metric} {best.Variant} {F(best.Stats.Mean)} vs {second.Variant} {F(second.Stats.Mean)}";
        if (best.Stats.N < 2 && second.Stats.N < 2)
            return ($"Not resolved: {pair}, but with 1 seed each there is no spread to estimate, so no interval and no winner. Run 3 or more seeds per variant.", null);
        if (best.Stats.N < 2 || second.Stats.N < 2)
            return ($"Not resolved: {pair}, but {(best.Stats.N < 2 ? best : second).Variant} has only 1 seed, so the difference has no interval and there is no winner. Run 3 or more seeds per variant.", null);
        var test = WelchTest.Of(second.Stats, best.Stats);
        if (test is null)
            return ($"Not resolved: {pair}; every seed gave the same value, so there is no spread to test. Vary the seed (training seed + k per run).", null);
        var gap = $"{F(test.Difference)} (95% CI [{F(test.CiLow)}, {F(test.CiHigh)}], Welch p = {P(test.P)})";
        if (test.Resolved)
            return ($"{best.Variant} has the lowest {metric}: {Describe(best.Stats)}; the runner-up {second.Variant} is higher by {gap}, with {Seeds(best, second)}.", best.Variant);
        var needed = PowerAnalysis.SeedsPerVariant(test.Difference, SampleStats.PooledStd(best.Stats, second.Stats)!.Value);
        var estimate = needed is int n
            ? $"A true gap of {F(test.Difference)} would need about {n} seeds per variant to resolve"
            : $"A true gap of {F(test.Difference)} would need more than {PowerAnalysis.MaxSeeds:N0} seeds per variant to resolve";
        return ($"Not resolved with {Seeds(best, second)}: {pair}, a gap of {gap}. {estimate} (two-sample t-test, α = 0.05, power 0.8, pooled std {F(SampleStats.PooledStd(best.Stats, second.Stats)!.Value)}).", null);
    }

    static string Seeds(VariantResult a, VariantResult b) =>
        a.Stats.N == b.Stats.N ? $"{a.Stats.N} seed{(a.Stats.N == 1 ? "" : "s")} each" : $"{a.Stats.N} and {b.Stats.N} seeds";

    /// <summary>"1.6200 (95% CI [1.5703, 1.6697], n = 3)", or "1.6200 (n = 1, no interval)".</summary>
    public static string Describe(SampleStats s) => s.CiLow is double lo && s.CiHigh is double hi
        ? $"{F(s.Mean)} (95% CI [{F(lo)}, {F(hi)}], n = {s.N})"
        : $"{F(s.Mean)} (n = {s.N}, no interval)";

    /// <summary>Four decimals, invariant culture: losses differ in the third.</summary>
    public static string F(double v) => v.ToString("F4", CultureInfo.InvariantCulture);

    /// <summary>p to three decimals, "&lt; 0.001" below that.</summary>
    public static string P(double p) => p < 1e-3 ? "< 0.001" : p.ToString("F3", CultureInfo.InvariantCulture);
}

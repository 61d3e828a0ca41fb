using System.Globalization;
using LMHarness.IO;

namespace LMHarness.Reports;

/// <summary>
/// Measurements a recipe takes of its runs after training (e.g. the validation loss at another context length): one
/// row per variant and seed, written as CSV (<c>variant,seed,&lt;columns&gt;</c>) and shown as a Markdown table of
/// per-variant means over seeds, in the order the variants were added, with optional derived columns.
/// </summary>
public sealed class VariantTable(params string[] columns)
{
    readonly List<(string Variant, int Seed, double[] Values)> _rows = [];

    /// <summary>The measured columns, in order.</summary>
    public IReadOnlyList<string> Columns { get; } = columns;

    /// <summary>Adds the measurements of one run (one value per column).</summary>
    public VariantTable Add(string variant, int seed, params double[] values)
    {
        if (values.Length != Columns.Count)
            throw new ArgumentException($"{variant} seed{seed}: {values.Length} values for the {Columns.Count} columns {string.Join(", ", Columns)}.");
        _rows.Add((variant, seed, values));
        return this;
    }

    /// <summary>Per-variant means of every column over its seeds.</summary>
    public IReadOnlyList<(string Variant, int Seeds, double[] Means)> Means() =>
        _rows.GroupBy(r => r.Variant).Select(g => (g.Key, g.Count(),
            Enumerable.Range(0, Columns.Count).Select(c => g.Average(r => r.Values[c])).ToArray())).ToList();

    /// <summary>CSV, one row per run, numbers round-trippable.</summary>
    public string Csv() =>
        IO.Csv.Line(["variant", "seed", .. Columns]) +
        string.Concat(_rows.Select(r => IO.Csv.Line([r.Variant, IO.Csv.Number(r.Seed), .. r.Values.Select(v => IO.Csv.Number(v))])));

    /// <summary>Writes <see cref="Csv"/> to <paramref name="path"/> (atomically) and returns the path.</summary>
    public string WriteCsv(string path) => AtomicFile.WriteAllText(path, Csv());

    /// <summary>
    /// A Markdown table of per-variant means (4 decimals), with <paramref name="derived"/> columns computed from the
    /// means (shown with a sign), e.g. <c>("change", m => m[1] - m[0])</c>.
    /// </summary>
    public string Markdown(params (string Name, Func<double[], double> Of)[] derived)
    {
        var header = new[] { "variant", "seeds" }.Concat(Columns).Concat(derived.Select(d => d.Name)).ToList();
        var w = new StringWriter();
        w.WriteLine("| " + string.Join(" | ", header) + " |");
        w.WriteLine("|---|" + string.Concat(Enumerable.Repeat("---:|", header.Count - 1)));
        foreach (var (variant, seeds, means) in Means())
            w.WriteLine($"| {variant} | {seeds} | " + string.Join(" | ",
                means.Select(m => m.ToString("F4", CultureInfo.InvariantCulture))
                     .Concat(derived.Select(d => d.Of(means).ToString("+0.0000;-0.0000", CultureInfo.InvariantCulture)))) + " |");
        return w.ToString();
    }
}

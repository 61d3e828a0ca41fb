using System.Globalization;
using CsvHelper;

namespace LMHarness.Training.Metrics;

/// <summary>
/// Appends <see cref="MetricsRow"/>s to metrics.csv with CsvHelper, flushing every row so a crash loses nothing
/// that was logged. Doubles are written round-trippable (shortest exact form), so equal losses compare equal as text.
/// </summary>
public sealed class MetricsCsv : IDisposable
{
    public static readonly string[] Columns = ["step", "tokens", "train_loss", "val_loss", "train_eval_loss", "lr", "grad_norm", "tokens_per_s", "mfu", "elapsed_s", "rss_mb"];

    readonly CsvWriter _csv;

    /// <summary>
    /// Opens <paramref name="path"/> for appending. With <paramref name="keepUpToStep"/> &gt;= 0 an existing file is
    /// first cut back to the rows at or before that step (a resumed run rewrites what came after its checkpoint);
    /// with -1 any existing file is replaced.
    /// </summary>
    public MetricsCsv(string path, long keepUpToStep)
    {
        _csv = CsvFiles.OpenAppend(path, keepUpToStep, Columns);
    }

    public void Write(MetricsRow r)
    {
        _csv.WriteRecord([S(r.Step), S(r.Tokens), S(r.TrainLoss), Opt(r.ValLoss), Opt(r.TrainEvalLoss), S(r.Lr), S(r.GradNorm),
            S(r.TokensPerS), S(r.Mfu), S(r.ElapsedS), S(r.RssMb)]);
        _csv.Flush();
    }

    static string S(double x) => x.ToString("R", CultureInfo.InvariantCulture);
    static string Opt(double? x) => x is { } v ? S(v) : "";
    static string S(long x) => x.ToString(CultureInfo.InvariantCulture);

    /// <summary>Reads a metrics.csv back (for reports and tests).</summary>
    public static List<MetricsRow> Read(string path)
    {
        using var r = CsvReader.FromFile(path, new CsvReaderOptions(), FileOptions.None);
        var rows = new List<MetricsRow>();
        double D(string c) => double.Parse(r.GetString(c), CultureInfo.InvariantCulture);
        while (r.Read())
        {
            double? Opt(string c) => r.GetString(c) is { Length: > 0 } t ? double.Parse(t, CultureInfo.InvariantCulture) : null;
            rows.Add(new MetricsRow(long.Parse(r.GetString("step"), CultureInfo.InvariantCulture), long.Parse(r.GetString("tokens"), CultureInfo.InvariantCulture),
                D("train_loss"), Opt("val_loss"), Opt("train_eval_loss"), D("lr"), D("grad_norm"),
                D("tokens_per_s"), D("mfu"), D("elapsed_s"), D("rss_mb")));
        }
        return rows;
    }

    public void Dispose() => _csv.Dispose();
}

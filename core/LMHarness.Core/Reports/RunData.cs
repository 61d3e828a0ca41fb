using System.Globalization;
using System.Text.Json;
using CsvHelper;

namespace LMHarness.Reports;

/// <summary>
/// One row of a run's <c>metrics.csv</c> (columns as written by training; <see cref="ValLoss"/> and
/// <see cref="TrainEvalLoss"/> are null on rows without evaluation, and TrainEvalLoss in files written before it existed).
/// </summary>
public sealed record MetricsPoint(
    long Step, long Tokens, double TrainLoss, double? ValLoss, double Lr, double GradNorm,
    double TokensPerS, double Mfu, double ElapsedS, double RssMb, double? TrainEvalLoss = null);

/// <summary>One row of a run's <c>gradflow.csv</c>: mean and max |gradient| of one parameter tensor at one step.</summary>
public sealed record GradFlowPoint(long Step, string Param, double MeanAbsGrad, double MaxAbsGrad);

/// <summary>
/// A finished (or running) run folder <c>runs/&lt;experiment&gt;/&lt;variant&gt;/seed&lt;k&gt;/</c> read back:
/// its metrics, gradient flow (when logged) and the scalars of its <c>config.json</c>.
/// </summary>
public sealed record RunData(string Folder, string Variant, int Seed, IReadOnlyList<MetricsPoint> Metrics, IReadOnlyList<GradFlowPoint> GradFlow, long? Params)
{
    /// <summary>metrics.csv columns every reader needs (training also writes train_eval_loss after val_loss).</summary>
    public static readonly IReadOnlyList<string> MetricsColumns =
        ["step", "tokens", "train_loss", "val_loss", "lr", "grad_norm", "tokens_per_s", "mfu", "elapsed_s", "rss_mb"];

    /// <summary>gradflow.csv columns, in order.</summary>
    public static readonly IReadOnlyList<string> GradFlowColumns = ["step", "param", "mean_abs_grad", "max_abs_grad"];

    /// <summary>A short label: the variant, plus the seed when several seeds of it are shown.</summary>
    public string Label => $"{Variant}/seed{Seed}";

    /// <summary>
    /// Reads a run folder. The variant is the parent folder's name when the folder is called <c>seed&lt;k&gt;</c>,
    /// else the folder's own name (seed 0). Throws naming the folder when it has no metrics.csv.
    /// </summary>
    public static RunData Load(string folder)
    {
        var dir = new DirectoryInfo(Path.GetFullPath(folder));
        var metricsPath = Path.Combine(dir.FullName, "metrics.csv");
        if (!File.Exists(metricsPath))
            throw new FileNotFoundException($"{dir.FullName} is not a run folder: it has no metrics.csv. Pass folders like runs/<experiment>/<variant>/seed<k>.", metricsPath);
        int seed = 0;
        string variant = dir.Name;
        if (dir.Name.StartsWith("seed", StringComparison.Ordinal) && int.TryParse(dir.Name[4..], out var s) && dir.Parent is not null)
            (seed, variant) = (s, dir.Parent.Name);
        var grad = Path.Combine(dir.FullName, "gradflow.csv");
        return new RunData(dir.FullName, variant, seed, ReadMetrics(metricsPath),
            File.Exists(grad) ? ReadGradFlow(grad) : [],
            ReadParams(Path.Combine(dir.FullName, "summary.json")) ?? ReadParams(Path.Combine(dir.FullName, "config.json")));
    }

    /// <summary>Reads metrics.csv; throws naming the file and the missing column when the header is not the expected one.</summary>
    public static IReadOnlyList<MetricsPoint> ReadMetrics(string path)
    {
        using var csv = Open(path, MetricsColumns);
        var hasTrainEval = csv.Headers.Contains("train_eval_loss");
        var rows = new List<MetricsPoint>();
        while (csv.Read())
            rows.Add(new MetricsPoint(
                csv.Parse<long>("step"), csv.Parse<long>("tokens"), D(csv, "train_loss"), OptD(csv, "val_loss"),
                D(csv, "lr"), D(csv, "grad_norm"), D(csv, "tokens_per_s"), D(csv, "mfu"), D(csv, "elapsed_s"), D(csv, "rss_mb"),
                hasTrainEval ? OptD(csv, "train_eval_loss") : null));
        return rows;
    }

    /// <summary>Reads gradflow.csv (columns <see cref="GradFlowColumns"/>).</summary>
    public static IReadOnlyList<GradFlowPoint> ReadGradFlow(string path)
    {
        using var csv = Open(path, GradFlowColumns);
        var rows = new List<GradFlowPoint>();
        while (csv.Read())
            rows.Add(new GradFlowPoint(csv.Parse<long>("step"), csv.GetString("param"), D(csv, "mean_abs_grad"), D(csv, "max_abs_grad")));
        return rows;
    }

    static CsvReader Open(string path, IReadOnlyList<string> columns)
    {
        var csv = CsvReader.FromFile(path, new CsvReaderOptions { Separator = ',' });
        csv.ReadHeader();
        var missing = columns.Except(csv.Headers).ToList();
        if (missing.Count > 0)
        {
            csv.Dispose();
            throw new InvalidDataException($"{path} lacks column(s) {string.Join(", ", missing)}: expected the header '{string.Join(',', columns)}'.");
        }
        return csv;
    }

    static double D(CsvReader csv, string name) => OptD(csv, name) ?? double.NaN;

    static double? OptD(CsvReader csv, string name)
    {
        var text = csv.GetString(name);
        return string.IsNullOrWhiteSpace(text) ? null : double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
    }

    /// <summary>The parameter count recorded in summary.json or config.json: a numeric <c>params</c> (or <c>n_params</c>) at the top level or one level down.</summary>
    static long? ReadParams(string path)
    {
        if (!File.Exists(path)) return null;
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        static long? Find(JsonElement e)
        {
            if (e.ValueKind != JsonValueKind.Object) return null;
            foreach (var name in new[] { "params", "n_params", "parameters" })
                if (e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number) return v.GetInt64();
            return null;
        }
        return Find(doc.RootElement) ?? doc.RootElement.EnumerateObject().Select(p => Find(p.Value)).FirstOrDefault(v => v is not null);
    }
}

namespace LMHarness.Runs;

/// <summary>
/// A run folder's contents in memory, for plots and tables: its metrics, gradient flow (when logged), result and
/// config when present. Read through <see cref="RunFolder"/>, the one reader of run folders.
/// </summary>
public sealed record RunData(RunFolder Run, IReadOnlyList<MetricsRow> Metrics, IReadOnlyList<GradFlowRow> GradFlow, RunResult? Result, RunConfig? Config)
{
    public string Folder => Run.Path;
    public string Variant => Run.Variant;
    public int Seed => Run.Seed;
    public string Label => Run.Label;

    /// <summary>Parameters, from result.json when the run has stopped.</summary>
    public long? Params => Result?.Parameters;

    /// <summary>Reads a run folder; throws naming the folder when it has no metrics.csv.</summary>
    public static RunData Load(string folder) => Load(new RunFolder(folder));

    /// <summary>Reads a run folder; throws naming the folder when it has no metrics.csv.</summary>
    public static RunData Load(RunFolder run) =>
        new(run, run.ReadMetrics(), run.ReadGradFlow(), run.ReadResult(), run.HasConfig ? run.ReadConfig() : null);
}

using LMHarness.Runs;

namespace LMHarness.Training.Logging;

/// <summary>Where a run starts: its folder, the step it starts at (0, or the checkpoint's), the steps it will take.</summary>
public sealed record RunStart(RunFolder Folder, long Step, long TotalSteps, string? ResumedFrom);

/// <summary>
/// One destination of what a run reports: metrics.csv, gradflow.csv, TensorBoard, the console, a caller's callback.
/// The trainer sends the same calls to each; every method has a do-nothing default, so a logger implements only what
/// it shows.
/// </summary>
public interface IRunLogger : IDisposable
{
    /// <summary>Before the first step of this process.</summary>
    void OnStart(RunStart start) { }
    /// <summary>Every logged row (log interval, evaluations, checkpoints, the last step).</summary>
    void OnMetrics(MetricsRow row) { }
    /// <summary>Every parameter's gradient statistics at a grad-flow step.</summary>
    void OnGradFlow(IReadOnlyList<GradFlowRow> rows) { }
    /// <summary>Something a person should know: resuming, a checkpoint fallback, an interrupt.</summary>
    void OnMessage(string message) { }
    /// <summary>After the last step of this process, with what it reports.</summary>
    void OnEnd(RunResult result) { }
    void IDisposable.Dispose() { }
}

/// <summary>metrics.csv, through the run folder.</summary>
public sealed class MetricsCsvLogger(RunFolder folder, long? keepUpToStep) : IRunLogger
{
    readonly RecordWriter<MetricsRow> _csv = folder.OpenMetrics(keepUpToStep);
    public void OnMetrics(MetricsRow row) => _csv.Write(row);
    public void Dispose() => _csv.Dispose();
}

/// <summary>gradflow.csv, through the run folder.</summary>
public sealed class GradFlowCsvLogger(RunFolder folder, long? keepUpToStep) : IRunLogger
{
    readonly RecordWriter<GradFlowRow> _csv = folder.OpenGradFlow(keepUpToStep);

    public void OnGradFlow(IReadOnlyList<GradFlowRow> rows)
    {
        foreach (var row in rows) _csv.Write(row);
    }

    public void Dispose() => _csv.Dispose();
}

/// <summary>TensorBoard event files in the run folder's tb/ (training tensor_board: true).</summary>
public sealed class TensorBoardLogger(RunFolder folder) : IRunLogger
{
    readonly TorchSharp.Modules.SummaryWriter _tb = TorchSharp.torch.utils.tensorboard.SummaryWriter(folder.TensorBoardPath);

    public void OnMetrics(MetricsRow row)
    {
        var s = (int)row.Step;
        _tb.add_scalar("train/loss", (float)row.TrainLoss, s);
        if (row.ValLoss is { } v) _tb.add_scalar("val/loss", (float)v, s);
        if (row.TrainEvalLoss is { } e) _tb.add_scalar("train/eval_loss", (float)e, s);
        if (row.ValBpb is { } b) _tb.add_scalar("val/bpb", (float)b, s);
        _tb.add_scalar("train/lr", (float)row.Lr, s);
        _tb.add_scalar("train/grad_norm", (float)row.GradNorm, s);
        _tb.add_scalar("perf/tokens_per_s", (float)row.TokensPerS, s);
        _tb.add_scalar("perf/mfu", (float)row.Mfu, s);
        _tb.add_scalar("perf/rss_mb", (float)row.RssMb, s);
    }
}

using LMHarness.Runs;

namespace LMHarness.Training.Logging;

/// <summary>Several loggers as one: each call goes to every logger, in order; disposing disposes them all.</summary>
public sealed class RunLoggers(IReadOnlyList<IRunLogger> loggers) : IRunLogger
{
    public void OnStart(RunStart start) { foreach (var l in loggers) l.OnStart(start); }
    public void OnMetrics(MetricsRow row) { foreach (var l in loggers) l.OnMetrics(row); }
    public void OnGradFlow(IReadOnlyList<GradFlowRow> rows) { foreach (var l in loggers) l.OnGradFlow(rows); }
    public void OnMessage(string message) { foreach (var l in loggers) l.OnMessage(message); }
    public void OnEnd(RunResult result) { foreach (var l in loggers) l.OnEnd(result); }
    public void Dispose() { foreach (var l in loggers) l.Dispose(); }
}

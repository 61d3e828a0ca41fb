using System.Globalization;
using LMHarness.Runs;

namespace LMHarness.Training.Logging;

/// <summary>
/// The console view of a run as plain lines, one per logged row, readable in logs and CI (LMHarness.Lab draws a live
/// bar on a terminal instead). Messages (resuming, interrupts) go to stderr.
/// </summary>
public class ProgressLines : IRunLogger
{
    long _total, _start;
    readonly System.Diagnostics.Stopwatch _clock = new();

    public virtual void OnStart(RunStart start)
    {
        (_total, _start) = (start.TotalSteps, start.Step);
        _clock.Restart();
    }

    public virtual void OnMetrics(MetricsRow row) => Console.WriteLine(Describe(row, _total, Eta(row.Step)));

    public virtual void OnMessage(string message) => Console.Error.WriteLine(message);

    public virtual void Dispose() { }

    /// <summary>Time left at the pace of this process's steps so far.</summary>
    protected TimeSpan Eta(long step) =>
        step <= _start ? TimeSpan.Zero : TimeSpan.FromSeconds((_total - step) * _clock.Elapsed.TotalSeconds / (step - _start));

    public static string Describe(MetricsRow r, long total, TimeSpan eta) => r.Step == 0
        ? string.Create(CultureInfo.InvariantCulture, $"step 0/{total} | val {r.ValLoss:F4} (train {r.TrainEvalLoss:F4}){Bpb(r)} | before training | rss {r.RssMb:F0} MB")
        : string.Create(CultureInfo.InvariantCulture,
            $"step {r.Step}/{total} | loss {r.TrainLoss:F4}{(r.ValLoss is { } v ? $" | val {v:F4}" : "")}{(r.TrainEvalLoss is { } e ? $" (train {e:F4})" : "")}{Bpb(r)} | lr {r.Lr:0.00e+00} | " +
            $"{r.TokensPerS:N0} tok/s | mfu {r.Mfu:P1} | rss {r.RssMb:F0} MB | eta {eta:hh\\:mm\\:ss}");

    static string Bpb(MetricsRow r) => r.ValBpb is { } b ? string.Create(CultureInfo.InvariantCulture, $", {b:F3} bits/byte") : "";
}

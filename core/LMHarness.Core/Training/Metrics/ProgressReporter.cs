using System.Globalization;
using Spectre.Console;

namespace LMHarness.Training.Metrics;

/// <summary>
/// Live feedback: a Spectre.Console progress bar (step/total, loss, tokens/s, ETA) when stdout is a terminal, and
/// one plain line per log interval when it is redirected, so CI logs stay readable.
/// </summary>
public abstract class ProgressReporter : IDisposable
{
    public abstract void Report(MetricsRow row, long totalSteps, TimeSpan eta);
    public virtual void Dispose() { }

    public static ProgressReporter Create(long totalSteps, long startStep) =>
        Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive
            ? new Lines()
            : new Bar(totalSteps, startStep);

    public static string Describe(MetricsRow r, long total, TimeSpan eta) => r.Step == 0
        ? string.Create(CultureInfo.InvariantCulture, $"step 0/{total} | val {r.ValLoss:F4} (train {r.TrainEvalLoss:F4}) | untrained model | rss {r.RssMb:F0} MB")
        : string.Create(CultureInfo.InvariantCulture,
            $"step {r.Step}/{total} | loss {r.TrainLoss:F4}{(r.ValLoss is { } v ? $" | val {v:F4}" : "")}{(r.TrainEvalLoss is { } e ? $" (train {e:F4})" : "")} | lr {r.Lr:0.00e+00} | " +
            $"{r.TokensPerS:N0} tok/s | mfu {r.Mfu:P1} | rss {r.RssMb:F0} MB | eta {eta:hh\\:mm\\:ss}");

    sealed class Lines : ProgressReporter
    {
        public override void Report(MetricsRow row, long totalSteps, TimeSpan eta) => Console.WriteLine(Describe(row, totalSteps, eta));
    }

    /// <summary>Spectre renders on its own thread; the training thread only moves the task's value and text.</summary>
    sealed class Bar : ProgressReporter
    {
        readonly ManualResetEventSlim _done = new();
        readonly ManualResetEventSlim _ready = new();
        readonly Task _render;
        ProgressTask? _task;

        public Bar(long totalSteps, long startStep)
        {
            _render = Task.Run(() => AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    _task = ctx.AddTask("training", maxValue: totalSteps);
                    _task.Value = startStep;
                    _ready.Set();
                    _done.Wait();
                    ctx.Refresh();
                }));
            _ready.Wait();
        }

        public override void Report(MetricsRow row, long totalSteps, TimeSpan eta)
        {
            _task!.Value = row.Step;
            _task.Description = Markup.Escape(Describe(row, totalSteps, eta));
        }

        public override void Dispose()
        {
            _done.Set();
            _render.Wait();
        }
    }
}

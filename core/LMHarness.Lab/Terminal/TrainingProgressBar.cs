using LMHarness.Runs;
using LMHarness.Training.Logging;
using Spectre.Console;

namespace LMHarness.Terminal;

/// <summary>
/// A live Spectre.Console bar for a run on a terminal (step/total, loss, tokens/s, ETA); <see cref="ForConsole"/> gives
/// plain lines instead when output is redirected, so CI logs stay readable. Spectre renders on its own thread; the
/// training thread only moves the task's value and text.
/// </summary>
public sealed class TrainingProgressBar : ProgressLines
{
    readonly ManualResetEventSlim _done = new(), _ready = new();
    Task? _render;
    ProgressTask? _task;

    TrainingProgressBar() { }

    /// <summary>A bar on an interactive terminal, else plain lines.</summary>
    public static ProgressLines ForConsole() => PrepareProgressBar.Interactive ? new TrainingProgressBar() : new ProgressLines();

    public override void OnStart(RunStart start)
    {
        base.OnStart(start);
        _render = Task.Run(() => AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                _task = ctx.AddTask("training", maxValue: start.TotalSteps);
                _task.Value = start.Step;
                _ready.Set();
                _done.Wait();
                ctx.Refresh();
            }));
        _ready.Wait();
    }

    public override void OnMetrics(MetricsRow row)
    {
        _task!.Value = row.Step;
        _task.Description = Markup.Escape(Describe(row, (long)_task.MaxValue, Eta(row.Step)));
    }

    public override void Dispose()
    {
        _done.Set();
        _render?.Wait();
    }
}

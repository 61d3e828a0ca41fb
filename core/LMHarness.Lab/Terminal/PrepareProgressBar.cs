using LMHarness.Data;
using Spectre.Console;

namespace LMHarness.Terminal;

/// <summary>A Spectre.Console bar per source of a prepare, for a terminal; <see cref="Run{T}"/> falls back to plain lines when output is redirected.</summary>
public sealed class PrepareProgressBar : IPrepareProgress
{
    readonly ProgressContext _context;
    ProgressTask? _task;
    double _max;

    PrepareProgressBar(ProgressContext context) => _context = context;

    /// <summary>Runs <paramref name="body"/> with a bar when stdout is an interactive terminal, else with <see cref="PrepareProgressLines"/>.</summary>
    public static T Run<T>(Func<IPrepareProgress, T> body)
    {
        if (!Interactive) return body(new PrepareProgressLines());
        return AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx => body(new PrepareProgressBar(ctx)));
    }

    /// <summary>Whether a live bar can be drawn (stdout is a terminal that Spectre can animate).</summary>
    public static bool Interactive => !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    public void Begin(string label, double max)
    {
        _max = Math.Max(1, max);
        _task = _context.AddTask(Markup.Escape(label), maxValue: _max);
    }

    public void Report(double value, long tokens) => _task!.Value = Math.Min(value, _max);

    public void End()
    {
        _task!.Value = _max;
        _task.StopTask();
    }
}

using System.Diagnostics;
using Spectre.Console;

namespace LMHarness.Data;

/// <summary>
/// Progress of a prepare: a Spectre.Console bar per source when stdout is a terminal, otherwise plain lines
/// (about every 10% and at the end) that read well in logs and CI.
/// </summary>
public sealed class PrepareProgress
{
    readonly bool _enabled;
    readonly Stopwatch _clock = Stopwatch.StartNew();
    ProgressContext? _context;
    ProgressTask? _task;
    string _label = "";
    double _max;
    int _lastDecile = -1;

    PrepareProgress(bool enabled) => _enabled = enabled;

    /// <summary>Runs <paramref name="body"/> with a progress display fitting the console (or none).</summary>
    public static T Run<T>(bool enabled, Func<PrepareProgress, T> body)
    {
        var progress = new PrepareProgress(enabled);
        if (!enabled || Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive)
            return body(progress);
        return AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx => { progress._context = ctx; return body(progress); });
    }

    /// <summary>Starts a new bar/line group for one source; <paramref name="max"/> in the unit later reported (bytes or tokens).</summary>
    public void Begin(string label, double max)
    {
        _label = label;
        _max = Math.Max(1, max);
        _lastDecile = -1;
        if (_context is not null) _task = _context.AddTask(Markup.Escape(label), maxValue: _max);
    }

    /// <summary>Sets the current value of the source in progress and the tokens written so far.</summary>
    public void Report(double value, long tokens)
    {
        if (!_enabled) return;
        if (_task is not null) { _task.Value = Math.Min(value, _max); return; }
        int decile = (int)Math.Min(10, 10 * value / _max);
        if (decile == _lastDecile) return;
        _lastDecile = decile;
        var secs = _clock.Elapsed.TotalSeconds;
        Console.WriteLine($"prepare {_label}: {10 * decile}%  {tokens:N0} tokens  {tokens / Math.Max(secs, 1e-3) / 1e6:F2} M tokens/s  {secs:F1} s");
    }

    public void End()
    {
        if (_task is not null) { _task.Value = _max; _task.StopTask(); }
    }
}

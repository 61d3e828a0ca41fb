using System.Diagnostics;

namespace LMHarness.Data;

/// <summary>What a prepare reports as it goes: one source at a time, in the unit <see cref="Begin"/> gives (bytes or tokens).</summary>
public interface IPrepareProgress
{
    /// <summary>A new source starts; <paramref name="max"/> is its size in the unit later reported.</summary>
    void Begin(string label, double max);
    /// <summary>The current position in the source and the tokens written so far.</summary>
    void Report(double value, long tokens);
    /// <summary>The source is done.</summary>
    void End();
}

/// <summary>Plain progress lines, about every 10 % of a source and at its end: readable in logs and CI.</summary>
public sealed class PrepareProgressLines : IPrepareProgress
{
    readonly Stopwatch _clock = Stopwatch.StartNew();
    string _label = "";
    double _max;
    int _lastDecile = -1;

    public void Begin(string label, double max) => (_label, _max, _lastDecile) = (label, Math.Max(1, max), -1);

    public void Report(double value, long tokens)
    {
        int decile = (int)Math.Min(10, 10 * value / _max);
        if (decile == _lastDecile) return;
        _lastDecile = decile;
        var secs = _clock.Elapsed.TotalSeconds;
        Console.WriteLine($"prepare {_label}: {10 * decile}%  {tokens:N0} tokens  {tokens / Math.Max(secs, 1e-3) / 1e6:F2} M tokens/s  {secs:F1} s");
    }

    public void End() { }
}

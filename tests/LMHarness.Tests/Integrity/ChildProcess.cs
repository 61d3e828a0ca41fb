using System.Collections.Concurrent;
using System.Diagnostics;

namespace LMHarness.Tests.Integrity;

/// <summary>
/// One run of tests/LMHarness.FaultChild (built beside this test assembly, same configuration): its stdout lines as
/// they come, and a <see cref="Kill"/> that is SIGKILL, as `kill -9` sends it: no handler runs, no file is closed.
/// </summary>
sealed class ChildProcess : IDisposable
{
    readonly Process _process;
    readonly BlockingCollection<string> _lines = new();
    readonly List<string> _all = [];
    readonly System.Text.StringBuilder _errors = new();

    public ChildProcess(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Dll);
        foreach (var a in args) info.ArgumentList.Add(a);
        _process = new Process { StartInfo = info };
        _process.OutputDataReceived += (_, e) => { if (e.Data is null) _lines.CompleteAdding(); else { lock (_all) _all.Add(e.Data); _lines.Add(e.Data); } };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_errors) _errors.AppendLine(e.Data); };
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>tests/LMHarness.FaultChild/bin/&lt;configuration&gt;/... : this assembly's folder with the child's project name.</summary>
    static string Dll { get; } = Path.Combine(
        AppContext.BaseDirectory.Replace($"{Path.DirectorySeparatorChar}LMHarness.Tests{Path.DirectorySeparatorChar}", $"{Path.DirectorySeparatorChar}LMHarness.FaultChild{Path.DirectorySeparatorChar}"),
        "LMHarness.FaultChild.dll");

    public bool HasExited => _process.HasExited;
    public int Id => _process.Id;
    public string Errors { get { lock (_errors) return _errors.ToString(); } }
    public IReadOnlyList<string> Lines { get { lock (_all) return _all.ToList(); } }

    /// <summary>The next stdout line that satisfies <paramref name="match"/>, or null when the process ends first.</summary>
    public string? WaitForLine(Func<string, bool> match, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (!_lines.TryTake(out var line, 100)) { if (_lines.IsCompleted) return null; continue; }
            if (match(line)) return line;
        }
        throw new TimeoutException($"no matching line from the fault child in {timeout}: {string.Join(" | ", Lines.TakeLast(3))} {Errors}");
    }

    /// <summary>Waits for the child to exit by itself and throws with its output unless it exits 0.</summary>
    public void Finish(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout)) { Kill(); throw new TimeoutException($"the fault child ran past {timeout}"); }
        _process.WaitForExit();
        if (_process.ExitCode != 0) throw new InvalidOperationException($"the fault child exited {_process.ExitCode}: {Errors}");
    }

    /// <summary>SIGKILL (Process.Kill on Unix), then waits until the process is gone. True when it was still running.</summary>
    public bool Kill()
    {
        var running = !_process.HasExited;
        if (running)
            try { _process.Kill(); } catch (InvalidOperationException) { running = false; } // exited in between
        _process.WaitForExit();
        return running;
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}

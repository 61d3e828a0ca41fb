using System.Text.Json;
using LMHarness.Tests.Integrity;

namespace LMHarness.Tests.Interop;

/// <summary>What loading one path did in the probe process: loaded (with its parameter count) or refused (with the error's type and message), and how far its resident peak rose.</summary>
sealed record ProbedLoad(string Path, bool Loaded, long Parameters, string? Type, string? Error, bool Reset, double GrowthMb);

/// <summary>
/// Runs the fault child's <c>load</c> mode (tests/LMHarness.FaultChild/LoadProbe.cs) on a list of paths and watches its
/// resident memory from here: past <see cref="KillAboveMb"/> the child is killed and the test fails saying so. The
/// watch is what lets a test of a loader that is not bounded fail instead of taking the machine: before issue 27 the
/// regression case grew to all 24 GB and was killed by the kernel.
/// </summary>
static class ProbedLoads
{
    /// <summary>The child's resident size at which it is killed: far above any case here (tiny models), far below the machine.</summary>
    public const double KillAboveMb = 1500;

    /// <summary>Loads each path in one child process (sampling <paramref name="tokens"/> tokens from each model that loads).</summary>
    public static IReadOnlyList<ProbedLoad> Run(IReadOnlyList<string> paths, int tokens, string workDir)
    {
        var cases = Path.Combine(workDir, $"cases-{Guid.NewGuid():N}.txt");
        File.WriteAllLines(cases, paths.Select(p => $"{p}\t{tokens}"));
        using var child = new ChildProcess("load", cases);
        double peak = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!child.HasExited)
        {
            var rss = ResidentMb(child.Id);
            peak = Math.Max(peak, rss);
            if (rss > KillAboveMb)
            {
                child.Kill();
                throw new Xunit.Sdk.XunitException($"the load probe grew to {rss:N0} MB resident (limit {KillAboveMb:N0} MB) and was killed, after {child.Lines.Count} of {paths.Count} loads: a load is not bounded by its files. Next case: {paths.ElementAtOrDefault(child.Lines.Count)}");
            }
            if (clock.Elapsed > TimeSpan.FromMinutes(3)) { child.Kill(); throw new TimeoutException($"the load probe ran past 3 minutes ({child.Lines.Count} of {paths.Count} loads)"); }
            Thread.Sleep(10);
        }
        child.Finish(TimeSpan.FromSeconds(10));
        var results = child.Lines.Where(l => l.StartsWith('{')).Select(Parse).ToList();
        results.Should().HaveCount(paths.Count, "the probe reports every case ({0})", child.Errors);
        return results;
    }

    static ProbedLoad Parse(string line)
    {
        var o = JsonDocument.Parse(line).RootElement;
        return new ProbedLoad(o.GetProperty("path").GetString()!, o.GetProperty("loaded").GetBoolean(), o.GetProperty("parameters").GetInt64(), o.GetProperty("type").GetString(),
            o.GetProperty("error").GetString(), o.GetProperty("reset").GetBoolean(), o.GetProperty("growth_mb").GetDouble());
    }

    /// <summary>VmRSS of process <paramref name="pid"/> in MB, 0 once it is gone.</summary>
    static double ResidentMb(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0]) / 1024.0;
        }
        catch (IOException) { }
        return 0;
    }
}

using System.Diagnostics;
using System.Text;

namespace LMHarness.Tests.Scripting;

/// <summary>Runs a program to completion (or a timeout), capturing stdout and stderr, with extra environment variables.</summary>
static class ChildProcess
{
    public sealed record Result(int Code, string Out, string Err, TimeSpan Elapsed)
    {
        public string All => Out + Err;
    }

    public static Result Run(string file, IEnumerable<string> args, string workingDirectory, IDictionary<string, string?>? env = null, int timeoutSeconds = 600)
    {
        var psi = Start(file, args, workingDirectory, env);
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!p.WaitForExit(timeoutSeconds * 1000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} ran past {timeoutSeconds} s; stderr so far:\n{stderr}");
        }
        p.WaitForExit();
        return new Result(p.ExitCode, stdout.ToString(), stderr.ToString(), clock.Elapsed);
    }

    public static ProcessStartInfo Start(string file, IEnumerable<string> args, string workingDirectory, IDictionary<string, string?>? env = null)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (k, v) in env ?? new Dictionary<string, string?>()) psi.Environment[k] = v;
        return psi;
    }
}

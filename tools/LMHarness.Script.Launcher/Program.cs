using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

// `dotnet script ...` inside an LMHarness clone: make sure the script host is built from what the clone holds now, then
// run it with the same arguments. The build is what makes stale hosts impossible, but MSBuild's own up-to-date check
// costs seconds on every call; so a stamp of the host's inputs (HostStamp) decides first, in milliseconds, and MSBuild
// runs only when an input differs from the last successful build: any edit to core/ or tools/LMHarness.Script is still
// compiled before the script runs. -d|--debug (before the script) says which it was.
//
// Backend: the host is built for the TorchBackend given as -p:TorchBackend=cpu|cuda (before the script), else
// $LMHARNESS_TORCH_BACKEND, else the backend the core was last built with (so a `dotnet build -p:TorchBackend=cuda`
// sticks), else cpu; a chosen or inherited non-default backend is said on stderr. `--info` prints the choice.
//
// Signals: a terminal's Ctrl-C reaches the whole foreground process group, so the host already has it; the first one
// is not this launcher's to act on: it waits until the host has saved (the trainer checkpoints, the script writes its
// outputs) and returns the host's exit code (75 = interrupted, saved: run the same command again to resume). A second
// Ctrl-C kills the host at once and returns 130. SIGTERM, which may be sent to this process alone (the dotnet CLI
// forwards its own), is passed on to the host, which treats it as a first Ctrl-C.
const string HostProject = "tools/LMHarness.Script/LMHarness.Script.csproj";
const string HostDll = "tools/LMHarness.Script/bin/Release/net10.0/linux-x64/LMHarness.Script.dll";
const string HostDeps = "tools/LMHarness.Script/bin/Release/net10.0/linux-x64/LMHarness.Script.deps.json";
const string CoreDeps = "core/LMHarness.Core/bin/Release/net10.0/linux-x64/LMHarness.Core.deps.json";
const int Aborted = 130; // 128 + SIGINT, what a shell reports for a process Ctrl-C killed

var scriptIndex = Array.FindIndex(args, a => a.EndsWith(".csx", StringComparison.OrdinalIgnoreCase));
var own = scriptIndex < 0 ? args : args[..scriptIndex];
var property = own.Select(a => Regex.Match(a, "^(?:-p|--property):TorchBackend=(.*)$", RegexOptions.IgnoreCase)).LastOrDefault(m => m.Success);
args = args.Where((a, i) => (scriptIndex >= 0 && i >= scriptIndex) || !Regex.IsMatch(a, "^(?:-p|--property):TorchBackend=", RegexOptions.IgnoreCase)).ToArray();

var start = args.FirstOrDefault(a => a.EndsWith(".csx", StringComparison.OrdinalIgnoreCase) && File.Exists(a)) is { } script
    ? Path.GetDirectoryName(Path.GetFullPath(script))!
    : Directory.GetCurrentDirectory();
var root = FindRoot(start) ?? FindRoot(Directory.GetCurrentDirectory());
if (root is null)
{
    Console.Error.WriteLine($"dotnet script: no LMHarness clone above {start} (looked for {HostProject}). Run it from inside the repository.");
    return 2;
}

var (backend, why) = property is not null ? (property.Groups[1].Value, "-p:TorchBackend")
    : Environment.GetEnvironmentVariable("LMHARNESS_TORCH_BACKEND") is { Length: > 0 } env ? (env, "LMHARNESS_TORCH_BACKEND")
    : LastBuiltBackend(root) is { } last ? (last, $"the core's last build, {CoreDeps}")
    : ("cpu", "default");
backend = backend.ToLowerInvariant();
if (backend is not ("cpu" or "cuda"))
{
    Console.Error.WriteLine($"dotnet script: TorchBackend '{backend}' (from {why}) is not a backend: use cpu or cuda.");
    return 2;
}
var dotnet = Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";
string[] buildArgs = ["build", Path.Combine(root, HostProject), "-c", "Release", $"-p:TorchBackend={backend}", "--nologo", "-v", "q", "-clp:NoSummary"];
if (own.Contains("--info"))
{
    Console.WriteLine($"LMHarness dotnet-script launcher {typeof(Interrupts).Assembly.GetName().Version}");
    Console.WriteLine($"clone:        {root}");
    Console.WriteLine($"host:         {Path.Combine(root, HostDll)}");
    Console.WriteLine($"TorchBackend={backend} (from {why})");
    Console.WriteLine($"build:        dotnet {string.Join(' ', buildArgs)}");
    var info = new HostStamp(root, HostProject, HostDll, HostDeps);
    Console.WriteLine($"host stamp:   {info.StampFile} ({(info.IsCurrent(info.Inputs(backend)) ? "current: the next call runs the host without building" : "stale or missing: the next call builds")})");
    Console.WriteLine($"script cache: {Path.Combine(Path.GetTempPath(), "dotnet-script")}/<script folder>/lmharness-cache/ (clear: delete it; bypass: --no-cache)");
    return 0;
}

using var signals = new Interrupts();
var debug = own.Contains("-d") || own.Contains("--debug");
if (Environment.GetEnvironmentVariable("LMHARNESS_SCRIPT_NO_BUILD") != "1")
{
    var stamp = new HostStamp(root, HostProject, HostDll, HostDeps);
    var inputs = stamp.Inputs(backend);
    if (stamp.IsCurrent(inputs))
    {
        if (debug) Console.Error.WriteLine($"dotnet script: the script host is up to date (TorchBackend={backend}); not building");
    }
    else
    {
        if (backend != "cpu" || why != "default")
            Console.Error.WriteLine($"dotnet script: building the script host with TorchBackend={backend} (from {why})");
        else if (debug)
            Console.Error.WriteLine("dotnet script: building the script host: its inputs differ from those of the last recorded build (or none is recorded)");
        var build = signals.Run(dotnet, buildArgs, capture: true);
        if (signals.Count > 0) return Aborted; // Ctrl-C during the build: nothing of the script ran
        if (build.Code != 0)
        {
            stamp.Clear(); // the outputs may be half-replaced: the next call builds again
            Console.Error.Write(build.Output);
            Console.Error.WriteLine($"dotnet script: building the script host failed (exit {build.Code}); fix the errors above (dotnet build {HostProject} -c Release -p:TorchBackend={backend}).");
            return build.Code;
        }
        // A file edited while MSBuild ran may or may not be in this build: record the stamp only if nothing moved.
        if (stamp.Inputs(backend) == inputs) stamp.Write(inputs);
    }
}
var host = signals.Run(dotnet, ["exec", Path.Combine(root, HostDll), .. args], capture: false);
return signals.Killed ? Aborted : host.Code;

static string? FindRoot(string dir)
{
    for (var d = new DirectoryInfo(dir); d is not null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, HostProject))) return d.FullName;
    return null;
}

// The backend the core was last built with, from the packages its deps.json lists; null before any build.
static string? LastBuiltBackend(string root)
{
    var deps = Path.Combine(root, CoreDeps);
    if (!File.Exists(deps)) return null;
    return File.ReadAllText(deps).Contains("\"TorchSharp-cuda-linux/", StringComparison.OrdinalIgnoreCase) ? "cuda" : null;
}

/// <summary>Runs children while holding this process's SIGINT/SIGTERM handling (see the top of the file).</summary>
sealed class Interrupts : IDisposable
{
    readonly PosixSignalRegistration _int, _term;
    Process? _child;
    int _count;

    public Interrupts()
    {
        _int = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx =>
        {
            ctx.Cancel = true; // the child has this Ctrl-C too: wait for it
            if (Interlocked.Increment(ref _count) < 2) return;
            Console.Error.WriteLine("dotnet script: second Ctrl-C: stopping the script without saving.");
            Killed = true;
            try { _child?.Kill(entireProcessTree: true); } catch (InvalidOperationException) { } // already gone
        });
        _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
        {
            ctx.Cancel = true;
            Interlocked.Increment(ref _count);
            if (_child is { HasExited: false } c) _ = Kill(c.Id, 15);
        });
    }

    /// <summary>Ctrl-C / SIGTERM received so far.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Whether a second Ctrl-C killed the child.</summary>
    public bool Killed { get; private set; }

    public (int Code, string Output) Run(string file, IEnumerable<string> arguments, bool capture)
    {
        var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = capture, RedirectStandardError = capture };
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        _child = p;
        var output = "";
        if (capture)
        {
            var err = p.StandardError.ReadToEndAsync();
            output = p.StandardOutput.ReadToEnd() + err.Result;
        }
        p.WaitForExit();
        _child = null;
        return (p.ExitCode, output);
    }

    public void Dispose()
    {
        _int.Dispose();
        _term.Dispose();
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    static extern int Kill(int pid, int signal);
}

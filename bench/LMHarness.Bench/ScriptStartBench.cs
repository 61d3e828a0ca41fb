using System.Diagnostics;
using System.Globalization;

namespace LMHarness.Bench;

/// <summary>
/// The edit-run loop of scripts: wall seconds of one `dotnet script` call under the repository's launcher and host
/// against upstream dotnet-script's loading (the stand-in, tests/LMHarness.UpstreamScript), side by side in one run,
/// alternating the two so that the shared machine's load falls on both. Cases: a warm call of scripts/inspect.csx and of
/// scripts/sample.csx (both caches filled); the first call after an edit to the script (a copy of inspect.csx under
/// runs/, edited before each call); the first call after an edit to core/ (a comment appended to
/// core/LMHarness.Core/Devices.cs before each call, the file restored at the end). Upstream builds nothing and refuses a
/// cached copy of another core build, so its figure after a core edit is what its docs ask for: `dotnet build
/// core/LMHarness.Lab -c Release`, then the script with --no-cache. Both are started as `dotnet X.dll`, leaving out the
/// SDK's local-tool lookup that `dotnet script` adds to either.
/// Usage: script-start [repeats=5] [core-repeats=2] (0: skip the core edit, which rebuilds the core). Needs `dotnet build LMHarness.sln -c Release` first.
/// </summary>
public sealed class ScriptStartBench : IBench
{
    public string Name => "script-start";
    public string Description => "`dotnet script` warm, after a script edit and after a core edit: our launcher + host vs upstream-style loading";

    const string CoreFile = "core/LMHarness.Core/Devices.cs";

    string _root = "", _launcher = "", _upstream = "";

    public void Run(string[] args)
    {
        var repeats = Count(args, 0, "repeats", 5, min: 1);
        var coreRepeats = Count(args, 1, "core-repeats", 2, min: 0);
        _root = FindRoot();
        _launcher = Path.Combine(_root, "tools/LMHarness.Script.Launcher/bin/Release/net10.0/LMHarness.Script.Launcher.dll");
        _upstream = Path.Combine(_root, "tests/LMHarness.UpstreamScript/bin/Release/net10.0/linux-x64/LMHarness.UpstreamScript.dll");
        foreach (var dll in new[] { _launcher, _upstream })
            if (!File.Exists(dll))
                throw new FileNotFoundException($"{dll} is not built: run `dotnet build LMHarness.sln -c Release` first.");

        var work = Path.Combine(_root, "runs", "bench", "script-start");
        var run = Path.Combine(work, "run");
        if (!File.Exists(Path.Combine(run, "result.json")))
        {
            Console.WriteLine("setup: a tiny trained run for sample.csx (prepare.csx, train.csx)");
            var data = Path.Combine(work, "data", "ts-char.bin");
            Call(_launcher, ["scripts/prepare.csx", "--", "--source", "tinyshakespeare", "--tokenizer", "char", "--out", data]);
            Call(_launcher, ["scripts/train.csx", "--", "--data", data, "--n_layer", "1", "--d_model", "32", "--n_head", "2", "--n_kv_head", "2",
                "--context_length", "32", "--micro_batch", "4", "--max_steps", "6", "--warmup_steps", "1", "--eval_interval", "3", "--eval_batches", "2", "--out", run]);
        }
        string[] inspect = ["scripts/inspect.csx", "--", "--preset", "llama-cpu"];
        string[] sample = ["scripts/sample.csx", "--", run, "--prompt", "ROMEO:", "--max", "40", "--temperature", "0"];

        var rows = new List<(string Case, List<double> Ours, List<double> Upstream)>();
        // Upstream keeps one execution cache per script folder: inspect.csx and sample.csx evict each other, so each
        // script's warm calls run together (each host's first call, untimed, fills its cache).
        foreach (var (name, call) in new[] { ("warm inspect.csx", inspect), ("warm sample.csx", sample) })
        {
            Call(_launcher, call);
            Call(_upstream, ["--no-cache", .. call]); // refills its cache: a copy of an older core build would be refused
            rows.Add(Measure(name, repeats, () => Time(_launcher, call), () => Time(_upstream, call)));
        }

        var copy = Path.Combine(work, "edited", "inspect.csx");
        Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
        var text = File.ReadAllText(Path.Combine(_root, "scripts/inspect.csx"))
            .Replace("#load \"../lmharness.csx\"", $"#load \"{Path.Combine(_root, "lmharness.csx")}\"", StringComparison.Ordinal);
        File.WriteAllText(copy, text);
        string[] edited = [copy, .. inspect[1..]];
        var edits = 0;
        // Unique across bench runs: upstream keys its cache on the script text, and an edit it saw in an earlier run (of
        // another core build) would be a cache hit, not the first call after an edit.
        void EditScript() => File.AppendAllText(copy, $"// edit {++edits} {Guid.NewGuid():N}\n");
        rows.Add(Measure("inspect.csx after a script edit", repeats,
            () => { EditScript(); return Time(_launcher, edited); },
            () => { EditScript(); return Time(_upstream, edited); }));

        if (coreRepeats > 0) rows.Add(AfterCoreEdit(coreRepeats, inspect));
        Report(rows, repeats, coreRepeats);
    }

    /// <summary>The first call after an edit to core/: a comment appended before each host's call, the file restored after.</summary>
    (string, List<double>, List<double>) AfterCoreEdit(int coreRepeats, string[] inspect)
    {
        var corePath = Path.Combine(_root, CoreFile);
        var original = File.ReadAllBytes(corePath);
        ConsoleCancelEventHandler restore = (_, _) => File.WriteAllBytes(corePath, original);
        Console.CancelKeyPress += restore;
        try
        {
            var n = 0;
            void EditCore() => File.AppendAllText(corePath, $"// script-start bench edit {++n}\n");
            return Measure("inspect.csx after a core/ edit", coreRepeats,
                () => { EditCore(); return Time(_launcher, inspect); },
                () =>
                {
                    EditCore();
                    var clock = Stopwatch.StartNew();
                    Call("build", ["core/LMHarness.Lab", "-c", "Release", "--nologo", "-v", "q"]);
                    Call(_upstream, ["--no-cache", .. inspect]);
                    return clock.Elapsed.TotalSeconds;
                });
        }
        finally
        {
            File.WriteAllBytes(corePath, original);
            Console.CancelKeyPress -= restore;
            Console.WriteLine($"restored {CoreFile}; rebuilding the clean core for both hosts");
            Call(_launcher, inspect);
            Call("build", ["core/LMHarness.Lab", "-c", "Release", "--nologo", "-v", "q"]);
            Call(_upstream, ["--no-cache", .. inspect]); // its cached copy is of an edited build: refresh it
        }
    }

    static void Report(List<(string Case, List<double> Ours, List<double> Upstream)> rows, int repeats, int coreRepeats)
    {
        Console.WriteLine();
        Console.WriteLine("| case | ours (median s) | upstream-style (median s) | ours / upstream |");
        Console.WriteLine("|---|---|---|---|");
        foreach (var (name, ours, up) in rows)
            Console.WriteLine(FormattableString.Invariant($"| {name} | {Median(ours):F2} | {Median(up):F2} | {Median(ours) / Median(up):F2}x |"));
        Console.WriteLine(FormattableString.Invariant($"({repeats} calls per host per case, {coreRepeats} after a core edit; goal: warm at most 1.3x upstream's)"));
    }

    static (string, List<double>, List<double>) Measure(string name, int repeats, Func<double> ours, Func<double> upstream)
    {
        var (o, u) = (new List<double>(), new List<double>());
        for (var i = 0; i < repeats; i++)
        {
            o.Add(ours());
            u.Add(upstream());
            Console.WriteLine(FormattableString.Invariant($"{name}: ours {o[^1]:F2} s, upstream-style {u[^1]:F2} s"));
        }
        return (name, o, u);
    }

    static int Count(string[] args, int index, string name, int fallback, int min)
    {
        if (args.Length <= index) return fallback;
        if (int.TryParse(args[index], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min) return n;
        Console.Error.WriteLine($"script-start: {name} '{args[index]}' is not a whole number >= {min} (usage: script-start [repeats=5] [core-repeats=2])");
        Environment.Exit(2);
        return 0;
    }

    static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    double Time(string dll, string[] args)
    {
        var clock = Stopwatch.StartNew();
        Call(dll, args);
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>`dotnet DLL args` (or `dotnet build ...` when <paramref name="dll"/> is "build") in the clone; fails loudly.</summary>
    void Call(string dll, string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = _root, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment.Remove("LMHARNESS_SCRIPT_NO_BUILD"); // the launcher's up-to-date check is part of what is measured
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"dotnet {dll} {string.Join(' ', args)} exited {p.ExitCode}:\n{output}{err.Result}");
    }

    static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "LMHarness.sln"))) return d.FullName;
        for (var d = new DirectoryInfo(Directory.GetCurrentDirectory()); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "LMHarness.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("run from inside an LMHarness clone (no LMHarness.sln above here)");
    }
}

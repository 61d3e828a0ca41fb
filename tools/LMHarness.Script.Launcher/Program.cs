using System.Diagnostics;

// `dotnet script ...` inside an LMHarness clone: build the script host incrementally, then run it with the same
// arguments. The build is what makes stale hosts impossible: MSBuild's up-to-date checks make it a few seconds
// when nothing changed, and any edit to core/ or tools/LMHarness.Script is compiled before the script runs.
const string HostProject = "tools/LMHarness.Script/LMHarness.Script.csproj";
const string HostDll = "tools/LMHarness.Script/bin/Release/net10.0/linux-x64/LMHarness.Script.dll";

var start = args.FirstOrDefault(a => a.EndsWith(".csx", StringComparison.OrdinalIgnoreCase) && File.Exists(a)) is { } script
    ? Path.GetDirectoryName(Path.GetFullPath(script))!
    : Directory.GetCurrentDirectory();
var root = FindRoot(start) ?? FindRoot(Directory.GetCurrentDirectory());
if (root is null)
{
    Console.Error.WriteLine($"dotnet script: no LMHarness clone above {start} (looked for {HostProject}). Run it from inside the repository.");
    return 2;
}

var dotnet = Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";
if (Environment.GetEnvironmentVariable("LMHARNESS_SCRIPT_NO_BUILD") != "1")
{
    var build = Run(dotnet, ["build", Path.Combine(root, HostProject), "-c", "Release", "--nologo", "-v", "q", "-clp:NoSummary"], capture: true);
    if (build.Code != 0)
    {
        Console.Error.Write(build.Output);
        Console.Error.WriteLine($"dotnet script: building the script host failed (exit {build.Code}); fix the errors above (dotnet build {HostProject} -c Release).");
        return build.Code;
    }
}
return Run(dotnet, ["exec", Path.Combine(root, HostDll), .. args], capture: false).Code;

static string? FindRoot(string dir)
{
    for (var d = new DirectoryInfo(dir); d is not null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, HostProject))) return d.FullName;
    return null;
}

static (int Code, string Output) Run(string file, IEnumerable<string> arguments, bool capture)
{
    var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = capture, RedirectStandardError = capture };
    foreach (var a in arguments) psi.ArgumentList.Add(a);
    using var p = Process.Start(psi)!;
    var output = "";
    if (capture)
    {
        var err = p.StandardError.ReadToEndAsync();
        output = p.StandardOutput.ReadToEnd() + err.Result;
    }
    p.WaitForExit();
    return (p.ExitCode, output);
}

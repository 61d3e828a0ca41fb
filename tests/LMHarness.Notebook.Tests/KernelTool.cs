using System.Diagnostics;
using System.Text.Json.Nodes;

namespace LMHarness.Notebook.Tests;

/// <summary>
/// The repository: its root, the Release build the notebooks load, and the .NET Interactive tool pinned in
/// .config/dotnet-tools.json (the tool VS Code's Polyglot Notebooks and Jupyter run), restored on first use.
/// </summary>
static class KernelTool
{
    public static string Root { get; } = FindRoot();

    public static string BuildFolder => Path.Combine(Root, "core/LMHarness.Lab/bin/Release/net10.0/linux-x64");

    static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "LMHarness.sln"))) return d.FullName;
        throw new DirectoryNotFoundException($"LMHarness.sln not found above {AppContext.BaseDirectory}");
    }

    /// <summary>The version of microsoft.dotnet-interactive the tool manifest pins.</summary>
    public static string PinnedVersion
    {
        get
        {
            var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(Root, ".config", "dotnet-tools.json")))!;
            return manifest["tools"]?["microsoft.dotnet-interactive"]?["version"]?.GetValue<string>()
                ?? throw new InvalidOperationException(".config/dotnet-tools.json pins no microsoft.dotnet-interactive");
        }
    }

    static readonly Lazy<string> Restored = new(Restore);

    /// <summary>The folder of the restored tool's assemblies (restored with `dotnet tool restore` if missing).</summary>
    public static string AssemblyFolder => Restored.Value;

    static string Restore()
    {
        var version = PinnedVersion;
        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var tools = Path.Combine(packages, "microsoft.dotnet-interactive", version, "tools");
        string? Find() => Directory.Exists(tools)
            ? Directory.GetFiles(tools, "Microsoft.DotNet.Interactive.App.dll", SearchOption.AllDirectories).Select(Path.GetDirectoryName).FirstOrDefault()
            : null;
        if (Find() is { } found) return found;
        // Restores this tool alone, from a manifest holding only its entry: `dotnet tool restore` of the repository's
        // manifest fails as a whole (restoring nothing) while the script launcher it also lists is not packed yet.
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(Root, ".config", "dotnet-tools.json")))!.AsObject();
        manifest["tools"] = new JsonObject { ["microsoft.dotnet-interactive"] = manifest["tools"]!["microsoft.dotnet-interactive"]!.DeepClone() };
        var alone = Path.Combine(Directory.CreateTempSubdirectory("lmh-kernel-").FullName, "dotnet-tools.json");
        File.WriteAllText(alone, manifest.ToJsonString());
        var (code, text) = Run("dotnet", ["tool", "restore", "--tool-manifest", alone], Root, TimeSpan.FromMinutes(10));
        Directory.Delete(Path.GetDirectoryName(alone)!, recursive: true);
        return Find() ?? throw new InvalidOperationException(
            $"`dotnet tool restore` (exit {code}) did not restore microsoft.dotnet-interactive {version}:\n{text}");
    }

    public static (int Code, string Output) Run(string file, IEnumerable<string> args, string folder, TimeSpan limit,
        IDictionary<string, string>? env = null)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_INTERACTIVE_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        if (env is not null) foreach (var (k, v) in env) start.Environment[k] = v;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} ran past {limit.TotalMinutes} min:\n{stdout.Result}\n{stderr.Result}");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}

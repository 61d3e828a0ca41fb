namespace LMHarness.Tests.Scripting;

/// <summary>The clone under test: the folder holding LMHarness.sln above the test binaries.</summary>
static class RepoPaths
{
    public static string Root { get; } = Find();

    static string Find()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "LMHarness.sln"))) return d.FullName;
        throw new DirectoryNotFoundException($"LMHarness.sln not found above {AppContext.BaseDirectory}");
    }

    /// <summary>The built core DLL, as scripts reference it for IntelliSense and for upstream dotnet-script.</summary>
    public static string CoreDll => Path.Combine(Root, "core/LMHarness.Core/bin/Release/net10.0/linux-x64/LMHarness.Core.dll");

    /// <summary>The include every C# script loads (its #r lines name the Release build of LMHarness.Lab).</summary>
    public static string Include => Path.Combine(Root, "lmharness.csx");

    /// <summary>This test run's configuration (Release or Debug), read from the test binaries' folder.</summary>
    static string Configuration => new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Parent!.Name;

    /// <summary>The upstream dotnet-script stand-in (tests/LMHarness.UpstreamScript), built with the tests.</summary>
    public static string UpstreamScriptDll => Path.Combine(Root, $"tests/LMHarness.UpstreamScript/bin/{Configuration}/net10.0/linux-x64/LMHarness.UpstreamScript.dll");

    /// <summary>The script host (tools/LMHarness.Script) as the launcher runs it: the Release build.</summary>
    public static string HostDll => Path.Combine(Root, "tools/LMHarness.Script/bin/Release/net10.0/linux-x64/LMHarness.Script.dll");

    /// <summary>The repository's `dotnet script` launcher (tools/LMHarness.Script.Launcher), built with the solution.</summary>
    public static string LauncherDll => Path.Combine(Root, $"tools/LMHarness.Script.Launcher/bin/{Configuration}/net10.0/LMHarness.Script.Launcher.dll");
}

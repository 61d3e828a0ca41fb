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
}

namespace LMHarness.Tests.Scripting;

/// <summary>
/// The launcher's up-to-date check, end to end on a clone of its own: a tiny "core" library and a tiny "host" at the
/// paths the launcher builds and runs (the real host would take minutes to build here). What it must never do is run a
/// host built from older sources: an edit to the core is built before the next run, and a change of backend too; what
/// it must not do either is run MSBuild when nothing changed.
/// </summary>
[Collection(UpstreamCollection.Name)]
public sealed class LauncherStampTests : IDisposable
{
    readonly TempDir _clone = new();

    public void Dispose() => _clone.Dispose();

    const string UpToDate = "the script host is up to date";
    const string Building = "building the script host";

    void Write(string path, string text)
    {
        var full = _clone.File(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, text);
    }

    /// <summary>`dotnet script -d [more] x.csx` in the clone: the launcher's stderr says whether it built.</summary>
    ChildProcess.Result Launch(params string[] more) =>
        ChildProcess.Run("dotnet", [RepoPaths.LauncherDll, "-d", .. more, _clone.File("x.csx")], _clone.Path,
            new Dictionary<string, string?> { ["LMHARNESS_TORCH_BACKEND"] = null, ["LMHARNESS_SCRIPT_NO_BUILD"] = null });

    [Fact]
    public void An_edited_core_is_built_before_the_next_run_and_an_unchanged_one_is_not_built_again()
    {
        Write("Directory.Build.props", """
            <Project><PropertyGroup>
              <TargetFramework>net10.0</TargetFramework><ImplicitUsings>enable</ImplicitUsings>
              <RuntimeIdentifier>linux-x64</RuntimeIdentifier><SelfContained>false</SelfContained>
            </PropertyGroup></Project>
            """);
        Write("core/Mini/Mini.csproj", """<Project Sdk="Microsoft.NET.Sdk" />""");
        Write("core/Mini/Core.cs", "namespace Mini; public static class Core { public static string Says() => \"one\"; }");
        Write("tools/LMHarness.Script/LMHarness.Script.csproj", """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup><OutputType>Exe</OutputType></PropertyGroup>
              <ItemGroup><ProjectReference Include="../../core/Mini/Mini.csproj" /></ItemGroup>
            </Project>
            """);
        Write("tools/LMHarness.Script/Program.cs", "Console.WriteLine($\"core says {Mini.Core.Says()}\");");
        Write("x.csx", "// run by the mini host, which only reports its core\n");

        var first = Launch();
        first.Code.Should().Be(0, first.All);
        first.Err.Should().Contain(Building, "a fresh clone has no stamp");
        first.Out.Should().Contain("core says one");

        var warm = Launch();
        warm.Code.Should().Be(0, warm.All);
        warm.Err.Should().Contain(UpToDate).And.NotContain(Building);
        warm.Out.Should().Contain("core says one");
        Launch("--info").Out.Should().Contain($"host stamp:   {_clone.File("tools/LMHarness.Script/obj/lmharness-host.stamp")} (current");

        Write("core/Mini/Core.cs", "namespace Mini; public static class Core { public static string Says() => \"two\"; }");
        Launch("--info").Out.Should().Contain("(stale or missing: the next call builds)");
        var edited = Launch();
        edited.Err.Should().Contain(Building);
        edited.Out.Should().Contain("core says two", "the edited core is built before the script runs");
        Launch().Err.Should().Contain(UpToDate);

        var cuda = Launch("-p:TorchBackend=cuda");
        cuda.Code.Should().Be(0, cuda.All);
        cuda.Err.Should().Contain("building the script host with TorchBackend=cuda (from -p:TorchBackend)", "the backend is part of the stamp");
        Launch("-p:TorchBackend=cuda").Err.Should().Contain(UpToDate);

        File.Delete(_clone.File("tools/LMHarness.Script/bin/Release/net10.0/linux-x64/LMHarness.Script.dll"));
        var deleted = Launch("-p:TorchBackend=cuda");
        deleted.Err.Should().Contain(Building, "a missing host is built whatever the stamp says");
        deleted.Out.Should().Contain("core says two");
    }
}

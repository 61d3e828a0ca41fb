using LMHarness.UpstreamScript;
using Microsoft.CodeAnalysis;

namespace LMHarness.Tests.Scripting;

/// <summary>
/// Every .csx of the repository (scripts/, experiments/, and the include they #load) compiles under upstream
/// dotnet-script's options and diagnostic rules (<see cref="UpstreamCompiler"/>). Before the rules were applied,
/// scripts/compare.csx compiled here but upstream 2.x refused it: "compare.csx(16,7): error CS8632".
/// </summary>
public sealed class UpstreamCompileTests
{
    /// <summary>The scripts users run, each compiled with the files it #load-s.</summary>
    public static TheoryData<string> Scripts() => new(ScriptPaths());

    static IEnumerable<string> ScriptPaths() =>
        new[] { "scripts", "experiments" }
            .SelectMany(folder => Directory.EnumerateFiles(Path.Combine(RepoPaths.Root, folder), "*.csx").Order(StringComparer.Ordinal))
            .Select(file => Path.GetRelativePath(RepoPaths.Root, file));

    [Theory]
    [MemberData(nameof(Scripts))]
    public void Compiles_under_upstream_rules(string script)
    {
        File.Exists(Path.Combine(RepoPaths.Root, "core/LMHarness.Lab/bin/Release/net10.0/linux-x64/LMHarness.Lab.dll"))
            .Should().BeTrue("the include #r's the Release build of LMHarness.Lab (dotnet build core/LMHarness.Lab -c Release)");

        var (_, errors) = UpstreamCompiler.Compile(Path.Combine(RepoPaths.Root, script), OptimizationLevel.Debug);

        errors.Select(e => e.ToString()).Should().BeEmpty($"upstream dotnet-script refuses {script} with these errors");
    }

    [Fact]
    public void Every_script_and_the_include_are_covered()
    {
        var covered = ScriptPaths().ToList();
        covered.Should().Contain(["scripts/compare.csx", "scripts/train.csx", "experiments/gqa_vs_mha.csx"]);
        // The include is compiled with every script that #load-s it: each one does.
        foreach (var script in covered)
            File.ReadAllText(Path.Combine(RepoPaths.Root, script)).Should().Contain("#load \"../lmharness.csx\"", script);
    }

    [Fact]
    public void A_nullable_annotation_outside_a_nullable_context_is_an_error_as_under_upstream()
    {
        using var dir = new TempDir();
        var script = dir.File("annotated.csx");
        File.WriteAllText(script, "string? name = null;\nreturn name is null ? 0 : 1;\n");

        var (_, errors) = UpstreamCompiler.Compile(script, OptimizationLevel.Debug);

        errors.Select(e => e.Id).Should().Equal(["CS8632"], "upstream turns the nullable warning into an error");
    }

    [Fact]
    public void Upstreams_suppressed_ids_and_imports_are_applied()
    {
        UpstreamCompiler.SuppressedDiagnosticIds.Should().Equal(["CS1701", "CS1702", "CS1705"]);
        using var dir = new TempDir();
        var script = dir.File("imports.csx");
        File.WriteAllText(script, "var sw = Stopwatch.StartNew(); WriteLine(new StringBuilder().Append(sw.IsRunning)); return 0;\n");

        UpstreamCompiler.Compile(script, OptimizationLevel.Release).Errors.Should().BeEmpty(
            "System.Diagnostics, System.Text and the static System.Console are imported for every script");
    }
}

using System.Text.RegularExpressions;
using LMHarness.Tests.Scripting;
using Xunit.Abstractions;

namespace LMHarness.Tests.Architecture;

/// <summary>
/// Dependencies point one way: Config &lt;- Model &lt;- Training &lt;- Experiments, with reports and plots beside the
/// experiments, never under the model or the trainer. Each namespace of the library (its first segment after
/// LMHarness; sub-namespaces fold into it) has a layer, and may use only namespaces of lower layers: that rules out
/// cycles, and keeps LMHarness.Core free of LMHarness.Lab. Read from the sources, so a new `using` that breaks the
/// layering fails here with the file that added it.
/// </summary>
public class LayeringTests(ITestOutputHelper output)
{
    static readonly Dictionary<string, int> CoreLayers = new()
    {
        ["LMHarness"] = 0, ["IO"] = 0,
        ["Native"] = 1, ["Tokenizers"] = 1, ["Config"] = 1,
        ["Model"] = 2, ["Data"] = 2, ["Runs"] = 2,
        ["Summary"] = 3, ["Generation"] = 3, ["Analysis"] = 3,
        ["Training"] = 4,
        ["Interop"] = 5, ["Replay"] = 5,
    };

    static readonly Dictionary<string, int> LabLayers = new()
    {
        ["Terminal"] = 6, ["Plots"] = 6,
        ["Corpora"] = 7, ["Reports"] = 7, ["Coordinates"] = 7, ["ScalingLaws"] = 7,
        ["Experiments"] = 8,
    };

    /// <summary>(area, file) -> areas it uses, from `using LMHarness.X` and qualified `LMHarness.X.` in code (not comments).</summary>
    static List<(string Area, string File, HashSet<string> Uses)> Scan(string root)
    {
        var files = new List<(string, string, HashSet<string>)>();
        foreach (var file in Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories))
        {
            var rel = Path.GetRelativePath(root, file);
            if (rel.StartsWith("obj", StringComparison.Ordinal) || rel.StartsWith("bin", StringComparison.Ordinal)) continue;
            var text = File.ReadAllText(file);
            var ns = Regex.Match(text, @"^namespace LMHarness(?:\.(\w+))?", RegexOptions.Multiline);
            ns.Success.Should().BeTrue($"{rel} declares a namespace under LMHarness");
            var area = ns.Groups[1].Success ? ns.Groups[1].Value : "LMHarness";
            var code = string.Join('\n', text.Split('\n').Where(l => !l.TrimStart().StartsWith("//", StringComparison.Ordinal)));
            var uses = Regex.Matches(code, @"LMHarness\.([A-Z]\w*)").Select(m => m.Groups[1].Value).Where(a => a != area).ToHashSet();
            files.Add((area, Path.Combine(Path.GetFileName(root), rel), uses));
        }
        return files;
    }

    /// <summary>Every use of a same-or-higher layer in the project at <paramref name="root"/>, and its namespace map.</summary>
    static (List<string> Violations, SortedDictionary<string, SortedSet<string>> Map) Check(string root, Dictionary<string, int> own)
    {
        var layers = CoreLayers.Concat(LabLayers).ToDictionary();
        var violations = new List<string>();
        var map = new SortedDictionary<string, SortedSet<string>>();
        foreach (var (area, file, uses) in Scan(root))
        {
            if (!own.ContainsKey(area)) { violations.Add($"{file}: namespace LMHarness.{area} has no layer in this assembly (add it to {nameof(LayeringTests)})"); continue; }
            if (!map.TryGetValue(area, out var set)) map[area] = set = [];
            foreach (var used in uses)
            {
                set.Add(used);
                if (!layers.TryGetValue(used, out var layer)) violations.Add($"{file}: uses unknown namespace LMHarness.{used}");
                else if (layer >= own[area]) violations.Add($"{file}: LMHarness.{area} (layer {own[area]}) uses LMHarness.{used} (layer {layer})");
            }
        }
        return (violations, map);
    }

    [Fact]
    public void Every_namespace_uses_only_lower_layers_and_the_core_never_uses_the_lab()
    {
        var layers = CoreLayers.Concat(LabLayers).ToDictionary();
        var violations = new List<string>();
        foreach (var (project, own) in new[] { ("LMHarness.Core", CoreLayers), ("LMHarness.Lab", LabLayers) })
        {
            var (v, map) = Check(Path.Combine(RepoPaths.Root, "core", project), own);
            violations.AddRange(v);
            foreach (var (area, uses) in map.OrderBy(m => layers[m.Key]))
                output.WriteLine($"{project,-15} {area,-12} (layer {layers[area]}) -> {string.Join(", ", uses)}");
        }
        violations.Should().BeEmpty();
    }

    [Fact]
    public void The_check_fails_on_a_dependency_that_points_up()
    {
        // Negative control: plant a Training file that uses LMHarness.Replay, and a Model file that uses LMHarness.Plots.
        using var dir = new TempDir();
        var root = Directory.CreateDirectory(dir.File("LMHarness.Core")).FullName;
        File.WriteAllText(Path.Combine(root, "Bad.cs"), "using LMHarness.Replay;\nnamespace LMHarness.Training;\nclass Bad { }\n");
        File.WriteAllText(Path.Combine(root, "Worse.cs"), "namespace LMHarness.Model;\nclass Worse { LMHarness.Plots.Charts? c; }\n");
        File.WriteAllText(Path.Combine(root, "Fine.cs"), "using LMHarness.Config;\nnamespace LMHarness.Training;\nclass Fine { }\n");
        var (violations, _) = Check(root, CoreLayers);
        violations.Should().BeEquivalentTo(
            "LMHarness.Core/Bad.cs: LMHarness.Training (layer 4) uses LMHarness.Replay (layer 5)",
            "LMHarness.Core/Worse.cs: LMHarness.Model (layer 2) uses LMHarness.Plots (layer 6)");
    }

    [Fact]
    public void The_core_references_no_plotting_terminal_or_parquet_package()
    {
        var csproj = File.ReadAllText(Path.Combine(RepoPaths.Root, "core", "LMHarness.Core", "LMHarness.Core.csproj"));
        foreach (var package in new[] { "OxyPlot", "SkiaSharp.HarfBuzz", "Spectre.Console", "Parquet.Net", "CsvHelper", "LMHarness.Lab" })
            csproj.Should().NotContain(package, "an app that embeds the model should not ship it");
    }
}

using LMHarness.Data;
using LMHarness.Native;
using LMHarness.Tests.Data;

namespace LMHarness.Tests.Scripting;

/// <summary>
/// Scripts under upstream dotnet-script 2.x, reproduced without it by tests/LMHarness.UpstreamScript: the script is
/// compiled into a cache folder, only the DLLs the include #r's are copied beside it (LMHarness.Core, LMHarness.Lab,
/// TorchSharp, OxyPlot: none of their dependencies), and it is loaded from there with Assembly.LoadFrom in a process that holds
/// nothing of LMHarness. Before <see cref="BuildFolder"/> every experiment failed there with "Could not load
/// Spectre.Console" (or CsvHelper, OxyPlot, Microsoft.ML.Tokenizers).
/// </summary>
[Collection(UpstreamCollection.Name)]
public sealed class UpstreamLoadingTests : IDisposable
{
    readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    ChildProcess.Result Upstream(params string[] args)
    {
        File.Exists(RepoPaths.UpstreamScriptDll).Should().BeTrue($"the stand-in is built with the tests ({RepoPaths.UpstreamScriptDll})");
        File.Exists(Path.Combine(RepoPaths.Root, "core/LMHarness.Lab/bin/Release/net10.0/linux-x64/LMHarness.Lab.dll"))
            .Should().BeTrue("the include #r's the Release build of LMHarness.Lab (dotnet build core/LMHarness.Lab -c Release)");
        return ChildProcess.Run("dotnet", [RepoPaths.UpstreamScriptDll, .. args], RepoPaths.Root, new Dictionary<string, string?>
        {
            ["TMPDIR"] = _dir.Path, // the stand-in's cache, like upstream's, lives under the temp folder
            ["LMHARNESS_TINYSHAKESPEARE"] = DataFixtures.TinyShakespearePath(),
            ["LMHARNESS_SMOKE"] = null,
        });
    }

    string Script(string name, string body)
    {
        var path = _dir.File(name);
        File.WriteAllText(path, $"#load \"{RepoPaths.Include}\"\n{body}");
        return path;
    }

    string CacheOf(string script) =>
        Path.Combine(_dir.Path, "dotnet-script", Path.GetDirectoryName(script)!.TrimStart('/'), "execution-cache");

    [Fact]
    public void A_tiny_experiment_runs_end_to_end_from_a_cache_holding_only_the_included_DLLs()
    {
        var runs = _dir.File("runs");
        var script = Script("tiny.csx", """
            using LMHarness.Config;
            using LMHarness.Experiments;
            var exp = new Experiment("tiny", Args);
            var model = new ModelConfig { ContextLength = 16, NLayer = 1, DModel = 32, NHead = 2, NKvHead = 2, FfnHidden = 64 };
            exp.Variant("one", model, RunRecipes.ShortRun(steps: 4, learningRate: 3e-3, batch: 4, context: 16));
            var report = exp.Run();
            return report.Rows.Count == 1 ? 0 : 3;
            """);

        var result = Upstream(script, "--", "--smoke", "--out", runs);

        result.Code.Should().Be(0, result.All);
        Directory.EnumerateFiles(CacheOf(script)).Select(Path.GetFileName).Order(StringComparer.Ordinal)
            .Should().Equal(["LMHarness.Core.dll", "LMHarness.Lab.dll", "OxyPlot.dll", "TorchSharp.dll", "script.dll", "script.sha256"],
                "upstream copies the #r-ed DLLs and nothing they depend on");
        var metrics = File.ReadAllLines(Path.Combine(runs, "smoke", "tiny", "one", "seed0", "metrics.csv"));
        metrics.Length.Should().BeGreaterThan(2);
        var png = File.ReadAllBytes(Path.Combine(runs, "smoke", "tiny", "loss_vs_tokens.png"));
        png[..8].Should().Equal([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
    }

    [Fact]
    public void A_cached_copy_of_another_core_build_is_refused_with_the_command_that_refreshes_it()
    {
        // Touches the Core (config), the Lab (a chart: OxyPlot and Skia's native library) and Microsoft.ML.Tokenizers.
        var png = _dir.File("chart.png");
        var script = Script("touch.csx", $$"""
            using LMHarness.Config;
            using LMHarness.Plots;
            using LMHarness.Tokenizers;
            var vocab = TokenizerFactory.ByName("gpt2").VocabSize;
            var model = new OxyPlot.PlotModel { Title = $"{new ModelConfig().NLayer} layers, {vocab} ids" };
            model.Series.Add(new OxyPlot.Series.LineSeries { ItemsSource = new[] { new OxyPlot.DataPoint(0, 1), new OxyPlot.DataPoint(1, 2) } });
            Charts.Save(model, "{{png}}");
            """);

        var isolated = Upstream("--isolated-load-context", script);
        isolated.Code.Should().Be(0, isolated.All);
        File.Exists(png).Should().BeTrue();

        var first = Upstream(script);
        first.Code.Should().Be(0, first.All);

        // The core is rebuilt; upstream keeps the cached copy because the script's text did not change.
        var cached = Path.Combine(CacheOf(script), "LMHarness.Core.dll");
        OtherBuild.Pretend(cached);
        var stale = Upstream(script);
        stale.Code.Should().NotBe(0);
        stale.Err.Should().Contain($"LMHarness.Core.dll was loaded from {cached}, a copy of another build")
            .And.Contain($"refresh it with: dotnet script --no-cache {script}");

        var refreshed = Upstream("--no-cache", script);
        refreshed.Code.Should().Be(0, refreshed.All);
        BuildFolder.Mvid(cached).Should().Be(BuildFolder.Mvid(RepoPaths.CoreDll));
    }
}

/// <summary>Makes a DLL look like another build of itself.</summary>
static class OtherBuild
{
    /// <summary>Flips a byte of the module version id (every place it is stored), as a rebuild changes it.</summary>
    public static void Pretend(string dll)
    {
        var mvid = BuildFolder.Mvid(dll).ToByteArray();
        var bytes = File.ReadAllBytes(dll);
        int found = 0;
        for (int i = 0; i + 16 <= bytes.Length; i++)
            if (bytes.AsSpan(i, 16).SequenceEqual(mvid)) { bytes[i] ^= 0xFF; found++; }
        found.Should().BeGreaterThan(0);
        File.WriteAllBytes(dll, bytes);
        BuildFolder.Mvid(dll).Should().NotBe(new Guid(mvid));
    }
}

/// <summary>Child processes that compile and train: one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class UpstreamCollection
{
    public const string Name = "script hosts (child processes)";
}

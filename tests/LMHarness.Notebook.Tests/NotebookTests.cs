using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace LMHarness.Notebook.Tests;

/// <summary>A code cell of an .ipynb file: its index among the code cells, source, outputs and metadata.</summary>
sealed record CodeCell(int Index, string Source, JsonArray Outputs, JsonObject Metadata)
{
    public static IReadOnlyList<CodeCell> Read(string ipynb)
    {
        var cells = JsonNode.Parse(File.ReadAllText(ipynb))!["cells"]!.AsArray();
        return cells.Where(c => (string?)c!["cell_type"] == "code")
            .Select((c, i) => new CodeCell(i, Text(c!["source"]), c!["outputs"]?.AsArray() ?? [], c!["metadata"]?.AsObject() ?? []))
            .ToList();
    }

    /// <summary>Jupyter stores text as a string or a list of lines.</summary>
    public static string Text(JsonNode? node) => node switch
    {
        null => "",
        JsonArray lines => string.Concat(lines.Select(l => (string?)l)),
        _ => (string?)node ?? "",
    };

    public static string Sha256(string source) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(source))).ToLowerInvariant();

    /// <summary>Every text an output carries (stream text, each mime type's data, an error's name, value and traceback).</summary>
    public static IEnumerable<string> Texts(JsonNode output)
    {
        if (output["text"] is { } text) yield return Text(text);
        if (output["data"] is JsonObject data) foreach (var (_, value) in data) yield return Text(value);
        if ((string?)output["output_type"] == "error")
            yield return $"{output["ename"]}: {output["evalue"]}\n{Text(output["traceback"])}";
    }

    public int Pngs => Outputs.Sum(o => Texts(o!).Sum(t => Occurrences(t, "data:image/png;base64,")) + (o!["data"]?["image/png"] is null ? 0 : 1));

    static int Occurrences(string text, string what)
    {
        int n = 0;
        for (int i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + what.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    /// <summary>What is wrong with this executed cell: failures, standard error (red in a notebook), compiler warnings.</summary>
    public IEnumerable<string> Problems()
    {
        if (Metadata["lmharness"]?["source_sha256"] is null) yield return $"code cell {Index} was not executed by notebooks/execute.sh";
        foreach (var output in Outputs)
        {
            var kind = (string?)output!["output_type"];
            if (kind == "error") yield return $"code cell {Index} failed: {string.Concat(Texts(output)).Split('\n')[0]}";
            else if (kind == "stream" && (string?)output["name"] == "stderr")
                yield return $"code cell {Index} wrote to standard error (shown in red): {Text(output["text"]).Trim()}";
            foreach (var text in Texts(output))
                foreach (var line in text.Split('\n').Where(l => l.Contains("warning CS") || l.Contains("warning FS")))
                    yield return $"code cell {Index} shows a compiler warning: {line.Trim()}";
        }
    }

    /// <summary>Null when the outputs were produced by this very source; else why not.</summary>
    public string? Stale() => (string?)Metadata["lmharness"]?["source_sha256"] switch
    {
        null => $"code cell {Index} has no outputs stamped by notebooks/execute.sh",
        var sha when sha != Sha256(Source) => $"code cell {Index} was edited after its outputs were produced (run notebooks/execute.sh):\n{Source}",
        _ => null,
    };
}

/// <summary>
/// The notebooks in the real kernel: notebooks/execute.sh --smoke runs every notebooks/*.ipynb through Jupyter's
/// nbconvert in the pinned Microsoft.dotnet-interactive tool (the kernel Jupyter and VS Code's Polyglot Notebooks
/// run), from the notebooks' folder, with a few steps per run. No cell may fail, write to standard error or show a
/// compiler warning, and the plots must be there. The committed notebooks carry the outputs of their current cells.
/// </summary>
public sealed class NotebookTests(ITestOutputHelper output) : IDisposable
{
    readonly string _temp = Directory.CreateTempSubdirectory("lmh-notebook-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    static string[] NotebookNames => Directory.GetFiles(Path.Combine(KernelTool.Root, "notebooks"), "*.ipynb").Select(p => Path.GetFileName(p)).ToArray();

    public static TheoryData<string> Notebooks => new(NotebookNames);

    static readonly Dictionary<string, (int MinCells, int MinPngCells, int MinPngs)> Expected = new()
    {
        ["lmharness.ipynb"] = (8, 2, 3),         // trajectory; the comparison's two charts
        ["lmharness-fsharp.ipynb"] = (5, 1, 1),  // the loss curve
    };

    static string TinyShakespeare()
    {
        for (var up = new DirectoryInfo(KernelTool.Root).Parent; up is not null; up = up.Parent)
        {
            var path = Path.Combine(up.FullName, "shared", "data", "tinyshakespeare.txt");
            if (File.Exists(path)) return path;
        }
        return Environment.GetEnvironmentVariable("LMHARNESS_TINYSHAKESPEARE") ?? "";
    }

    [Fact]
    public void Every_notebook_is_known_to_these_tests()
    {
        NotebookNames.Should().BeEquivalentTo(Expected.Keys);
    }

    [Fact]
    public void Every_notebook_runs_cleanly_in_the_real_kernel()
    {
        File.Exists(Path.Combine(KernelTool.BuildFolder, "LMHarness.Lab.dll"))
            .Should().BeTrue("the notebooks load the Release build (dotnet build core/LMHarness.Lab -c Release)");
        KernelTool.AssemblyFolder.Should().NotBeNull(); // restores the pinned kernel
        var executed = Path.Combine(_temp, "executed");
        var (code, log) = KernelTool.Run("bash", ["notebooks/execute.sh", "--smoke", "--no-build", "--out", executed], KernelTool.Root,
            TimeSpan.FromMinutes(30), new Dictionary<string, string>
            {
                ["LMHARNESS_RUNS"] = Path.Combine(_temp, "runs"),
                ["LMHARNESS_TINYSHAKESPEARE"] = TinyShakespeare(),
            });
        output.WriteLine(log);
        log.Should().NotContain("nbconvert is not installed", "CI installs Debian's jupyter-nbconvert (.ci/run)");

        foreach (var (name, expected) in Expected)
        {
            var path = Path.Combine(executed, name);
            File.Exists(path).Should().BeTrue($"execute.sh writes the executed {name} (exit {code}):\n{log}");
            var cells = CodeCell.Read(path);
            cells.Should().HaveCountGreaterThanOrEqualTo(expected.MinCells);
            cells.SelectMany(c => c.Problems()).Should().BeEmpty($"{name} must run cleanly in the kernel");
            cells.Count(c => c.Pngs > 0).Should().BeGreaterThanOrEqualTo(expected.MinPngCells, $"{name} shows its plots inline");
            cells.Sum(c => c.Pngs).Should().BeGreaterThanOrEqualTo(expected.MinPngs);
        }
        code.Should().Be(0, log);
    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void The_committed_notebook_shows_the_outputs_of_its_current_cells(string name)
    {
        var cells = CodeCell.Read(Path.Combine(KernelTool.Root, "notebooks", name));
        cells.Select(c => c.Stale()).Where(s => s is not null).Should().BeEmpty();
        cells.SelectMany(c => c.Problems()).Should().BeEmpty();
        cells.Sum(c => c.Pngs).Should().BeGreaterThanOrEqualTo(Expected[name].MinPngs, "readers without the kernel see the plots");
        cells.Should().Contain(c => c.Outputs.Any(o => CodeCell.Texts(o!).Any(t => t.Contains("ROMEO:"))), "readers see a sample");
    }

    [Fact]
    public void An_edited_cell_is_found_stale_and_an_error_output_is_a_problem()
    {
        // Negative controls for the two checks above, on a cell as execute.sh stamps it.
        var source = "var x = 1;\nx";
        var metadata = new JsonObject { ["lmharness"] = new JsonObject { ["source_sha256"] = CodeCell.Sha256(source) } };
        new CodeCell(0, source, [], metadata).Stale().Should().BeNull();
        new CodeCell(0, source + " + 1", [], (JsonObject)metadata.DeepClone()).Stale().Should().Contain("edited after its outputs");
        new CodeCell(0, source, [], []).Stale().Should().Contain("no outputs stamped");

        var failed = new JsonArray(
            new JsonObject { ["output_type"] = "error", ["ename"] = "Error", ["evalue"] = "compilation error", ["traceback"] = new JsonArray() },
            new JsonObject { ["output_type"] = "stream", ["name"] = "stderr", ["text"] = "LMHarness: note\n" },
            new JsonObject { ["output_type"] = "stream", ["name"] = "stdout", ["text"] = new JsonArray("warning CS1701: Assuming assembly reference\n") });
        new CodeCell(3, source, failed, (JsonObject)metadata.DeepClone()).Problems().Should().HaveCount(3)
            .And.Contain(p => p.Contains("failed")).And.Contain(p => p.Contains("standard error")).And.Contain(p => p.Contains("CS1701"));
    }
}

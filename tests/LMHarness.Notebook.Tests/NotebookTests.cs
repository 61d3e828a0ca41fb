using System.Diagnostics;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.CSharp;
using Microsoft.DotNet.Interactive.Events;
using Xunit.Abstractions;

namespace LMHarness.Notebook.Tests;

/// <summary>
/// notebooks/lmharness.ipynb, executed as a person would in Polyglot Notebooks but headless: every code cell, in
/// order, in one C# kernel whose working folder is notebooks/, with small settings (LMHARNESS_SMOKE=1). No cell may
/// fail; the loss plot must be displayed and then redrawn during training; the trajectory and the comparison must be
/// displayed as inline PNGs.
/// </summary>
public sealed class NotebookTests(ITestOutputHelper output) : IDisposable
{
    readonly string _runs = Directory.CreateTempSubdirectory("lmh-notebook-").FullName;

    public void Dispose() => Directory.Delete(_runs, recursive: true);

    static string Root()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "LMHarness.sln"))) return d.FullName;
        throw new DirectoryNotFoundException($"LMHarness.sln not found above {AppContext.BaseDirectory}");
    }

    static string TinyShakespeare(string root)
    {
        for (var up = new DirectoryInfo(root).Parent; up is not null; up = up.Parent)
        {
            var path = Path.Combine(up.FullName, "shared", "data", "tinyshakespeare.txt");
            if (File.Exists(path)) return path;
        }
        return Environment.GetEnvironmentVariable("LMHARNESS_TINYSHAKESPEARE") ?? "";
    }

    [Fact]
    public async Task The_notebook_runs_every_cell_and_shows_its_plots_inline()
    {
        var root = Root();
        File.Exists(Path.Combine(root, "core/LMHarness.Lab/bin/Release/net10.0/linux-x64/LMHarness.Lab.dll"))
            .Should().BeTrue("the notebook loads the Release build of LMHarness.Lab (dotnet build core/LMHarness.Lab -c Release)");
        Environment.SetEnvironmentVariable("LMHARNESS_SMOKE", "1");
        Environment.SetEnvironmentVariable("LMHARNESS_RUNS", _runs);
        Environment.SetEnvironmentVariable("LMHARNESS_TINYSHAKESPEARE", TinyShakespeare(root));
        Directory.SetCurrentDirectory(Path.Combine(root, "notebooks")); // where Polyglot Notebooks runs a notebook's kernel

        var document = Microsoft.DotNet.Interactive.Documents.Jupyter.Notebook.Parse(await File.ReadAllTextAsync(Path.Combine(root, "notebooks", "lmharness.ipynb")));
        var cells = document.Elements.Where(e => e.KernelName is null or "csharp").ToList();
        cells.Should().HaveCountGreaterThanOrEqualTo(8);

        using var kernel = new CSharpKernel().UseKernelHelpers();
        var images = new List<(int Cell, string Kind)>();
        for (int i = 0; i < cells.Count; i++)
        {
            var clock = Stopwatch.StartNew();
            var result = await kernel.SendAsync(new SubmitCode(cells[i].Contents));
            output.WriteLine($"cell {i}: {clock.Elapsed.TotalSeconds:F1} s");
            var failed = result.Events.OfType<CommandFailed>().FirstOrDefault();
            failed.Should().BeNull($"cell {i} must run:\n{cells[i].Contents}\n{failed?.Message}");
            foreach (var e in result.Events)
            {
                var values = e switch { DisplayedValueProduced p => p.FormattedValues, DisplayedValueUpdated u => u.FormattedValues, _ => null };
                if (values is not null && values.Any(v => v.Value.Contains("data:image/png;base64,")))
                    images.Add((i, e is DisplayedValueUpdated ? "updated" : "produced"));
            }
        }

        images.Count(x => x.Kind == "updated").Should().BeGreaterThanOrEqualTo(4, "the loss plot is redrawn at each evaluation of each run");
        images.Select(x => x.Cell).Distinct().Should().HaveCountGreaterThanOrEqualTo(3, "training, the trajectory and the comparison show plots");
        File.Exists(Path.Combine(_runs, "notebook", "compare", "comparison.md")).Should().BeTrue();
    }
}

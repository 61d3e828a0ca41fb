using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace LMHarness.Notebook.Tests;

/// <summary>
/// The notebooks as VS Code's Polyglot Notebooks runs them: the pinned tool's <c>dotnet interactive stdio</c>, one
/// SubmitCode command per code cell (JSON lines in, kernel events out), in the notebook's folder, LMHARNESS_SMOKE=1.
/// Jupyter (nbconvert, <see cref="NotebookTests"/>) drops display updates, so this is where the live loss plot's
/// redraws are seen: every evaluation of every run must redraw it with a PNG.
/// </summary>
public sealed class StdioKernelTests(ITestOutputHelper output) : IDisposable
{
    readonly string _runs = Directory.CreateTempSubdirectory("lmh-stdio-").FullName;

    public void Dispose() => Directory.Delete(_runs, recursive: true);

    /// <summary>Submits every code cell in order; returns each cell's events (the kernel's JSON envelopes).</summary>
    async Task<List<List<JsonNode>>> RunCells(string notebook, string kernelName)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.Combine(KernelTool.Root, "notebooks"),
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        foreach (var a in new[] { "dotnet-interactive", "stdio", "--default-kernel", kernelName }) start.ArgumentList.Add(a);
        start.Environment["DOTNET_INTERACTIVE_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["LMHARNESS_SMOKE"] = "1";
        start.Environment["LMHARNESS_RUNS"] = _runs;
        _ = KernelTool.AssemblyFolder; // restored
        using var kernel = Process.Start(start)!;
        var stderr = kernel.StandardError.ReadToEndAsync();
        var results = new List<List<JsonNode>>();
        try
        {
            foreach (var cell in CodeCell.Read(Path.Combine(KernelTool.Root, "notebooks", notebook)))
            {
                var token = $"cell-{cell.Index}";
                var command = new JsonObject
                {
                    ["token"] = token, ["commandType"] = "SubmitCode",
                    ["command"] = new JsonObject { ["code"] = cell.Source, ["targetKernelName"] = kernelName },
                };
                await kernel.StandardInput.WriteLineAsync(command.ToJsonString());
                await kernel.StandardInput.FlushAsync();
                var events = new List<JsonNode>();
                using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(10));
                while (true)
                {
                    var line = await kernel.StandardOutput.ReadLineAsync(limit.Token)
                        ?? throw new InvalidOperationException($"the kernel ended during cell {cell.Index}:\n{await stderr}");
                    if (!line.StartsWith('{')) continue; // the tool's banner
                    var e = JsonNode.Parse(line)!;
                    var of = (string?)e["command"]?["token"];
                    if (of != token && of?.StartsWith(token + ".") != true) continue;
                    events.Add(e);
                    var type = (string?)e["eventType"];
                    if (of == token && type is "CommandSucceeded" or "CommandFailed") break;
                }
                results.Add(events);
            }
        }
        finally
        {
            kernel.StandardInput.Close();
            if (!kernel.WaitForExit(TimeSpan.FromSeconds(30))) kernel.Kill(entireProcessTree: true);
        }
        return results;
    }

    static IEnumerable<string> Values(JsonNode e) =>
        e["event"]?["formattedValues"]?.AsArray().Select(v => (string?)v?["value"] ?? "") ?? [];

    [Theory]
    [InlineData("lmharness.ipynb", "csharp", 2)]        // two runs
    [InlineData("lmharness-fsharp.ipynb", "fsharp", 1)]
    public async Task The_loss_plot_is_redrawn_at_every_evaluation_in_the_VS_Code_kernel(string notebook, string kernelName, int runs)
    {
        var cells = await RunCells(notebook, kernelName);
        for (int i = 0; i < cells.Count; i++)
        {
            var failed = cells[i].FirstOrDefault(e => (string?)e["eventType"] == "CommandFailed");
            failed.Should().BeNull($"code cell {i} of {notebook} must run: {failed?["event"]?["message"]}");
            var warnings = cells[i].Where(e => (string?)e["eventType"] == "DiagnosticsProduced")
                .SelectMany(e => e["event"]!["diagnostics"]!.AsArray()).Where(d => (string?)d!["severity"] != "hidden")
                .Select(d => $"{d!["code"]}: {d["message"]}");
            warnings.Should().BeEmpty($"code cell {i} of {notebook} compiles cleanly");
            cells[i].Where(e => (string?)e["eventType"] == "StandardErrorValueProduced").SelectMany(Values)
                .Should().BeEmpty($"code cell {i} of {notebook} writes nothing to standard error (red)");
        }
        var redraws = cells.SelectMany(c => c).Count(e => (string?)e["eventType"] == "DisplayedValueUpdated"
            && Values(e).Any(v => v.Contains("data:image/png;base64,")));
        output.WriteLine($"{notebook}: {redraws} redraws");
        // LMHARNESS_SMOKE: 6 steps, an evaluation every step (RunRecipes.ShortRun: steps / 10, at least 1) and at step 0.
        redraws.Should().BeGreaterThanOrEqualTo(runs * 7, "the live plot is redrawn at each of the 7 evaluations of every run");
    }
}

using System.Xml.Linq;
using LMHarness.Reports;
using LMHarness.Scripting;
using LMHarness.Tests.Scripting;
using LMHarness.Tests.Training;
using LMHarness.Tokenizers;

namespace LMHarness.Tests.Reports;

/// <summary>
/// A single run's own page (<see cref="RunPage"/>): its loss, learning-rate, throughput and gradient-flow plots and a
/// report.html about the run, where train.csx used to write a comparison of one variant ("Only X has results:
/// nothing to compare", comparison.csv, final_by_variant.png).
/// </summary>
public sealed class RunPageTests : IDisposable
{
    readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    static readonly string[] Plots = ["loss_vs_tokens.png", "lr_schedule.png", "throughput.png", "gradflow.png"];

    [Fact]
    public void Writes_the_runs_plots_and_a_page_about_it_and_no_comparison()
    {
        var run = SyntheticRuns.Write(_dir.Path, "solo", 0, newColumns: true, tokenizer: new CharTokenizer("ab").Identity);
        foreach (var stale in new[] { "comparison.csv", "comparison.statistics.csv", "comparison.md", "final_by_variant.png" })
            File.WriteAllText(Path.Combine(run, stale), "written by an earlier train.csx");

        var page = RunPage.Write(run);

        page.Pngs.Select(Path.GetFileName).Should().Equal(Plots);
        foreach (var png in page.Pngs) SyntheticRuns.PngSize(png).Should().Be((1200, 750), png);
        Directory.EnumerateFiles(run).Select(Path.GetFileName).Should().NotContain(n => n!.StartsWith("comparison.") || n == "final_by_variant.png",
            "a single run is not compared with itself");
        var html = File.ReadAllText(page.HtmlPath);
        XDocument.Parse(html.Replace("<!DOCTYPE html>", "")); // well-formed, as the comparison page is
        html.Should().Contain("<title>Run: solo/seed0</title>").And.NotContain("nothing to compare").And.NotContain("Headline:");
        System.Text.RegularExpressions.Regex.Matches(html, "src=\"data:image/png;base64,").Count.Should().Be(4);
        html.Should().Contain($"final validation loss {page.Row.FinalValLoss!.Value:F4} nats/token");
        page.Row.FinalValLoss.Should().BeApproximately(SyntheticRuns.Loss(40, 0) + 0.05, 1e-9);
    }

    [Fact]
    public void A_run_without_gradient_flow_gets_the_other_three_plots()
    {
        var run = SyntheticRuns.Write(_dir.Path, "plain", 1, gradFlow: false);
        RunPage.Write(run).Pngs.Select(Path.GetFileName).Should().Equal(Plots[..3]);
    }
}

/// <summary>scripts/train.csx on one tiny run, in the repository's script host: the run's page, not a one-variant comparison.</summary>
[Collection(nameof(GlobalTorchState))]
public sealed class TrainScriptPageTests : IDisposable
{
    readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Train_csx_writes_the_single_runs_page()
    {
        var run = _dir.File("run");
        var errors = new StringWriter();
        var code = ScriptRunner.Run(Path.Combine(RepoPaths.Root, "scripts/train.csx"),
        [
            "--data", TrainingFixtures.TokenFile(_dir.Path), "--n_layer", "1", "--d_model", "32", "--n_head", "2", "--n_kv_head", "2",
            "--context_length", "8", "--micro_batch", "2", "--max_steps", "4", "--warmup_steps", "1", "--eval_interval", "2",
            "--eval_batches", "2", "--log_interval", "1", "--grad_flow_interval", "2", "--checkpoint_interval", "0", "--out", run,
        ], errors);

        code.Should().Be(0, errors.ToString());
        foreach (var png in new[] { "loss_vs_tokens.png", "lr_schedule.png", "throughput.png", "gradflow.png" })
            File.Exists(Path.Combine(run, png)).Should().BeTrue(png);
        File.ReadAllText(Path.Combine(run, "report.html")).Should().Contain("<title>Run: run</title>", "a folder not named seed<k> is known by its name")
            .And.NotContain("nothing to compare");
        File.Exists(Path.Combine(run, "comparison.csv")).Should().BeFalse("one run is not a comparison");
        File.Exists(Path.Combine(run, "final_by_variant.png")).Should().BeFalse();
    }
}

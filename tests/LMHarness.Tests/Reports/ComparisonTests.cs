using LMHarness.Plots;
using LMHarness.Reports;
using LMHarness.Runs;

namespace LMHarness.Tests.Reports;

public sealed class ComparisonTests : IDisposable
{
    readonly string _root = Directory.CreateTempSubdirectory("lmh-report-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Run_folder_names_give_variant_and_seed_and_summary_json_gives_params()
    {
        var dir = SyntheticRuns.Write(_root, "gqa", 3);
        var run = RunData.Load(dir);
        run.Variant.Should().Be("gqa");
        run.Seed.Should().Be(3);
        run.Metrics.Should().HaveCount(40);
        run.Metrics.Count(m => m.ValLoss is not null).Should().Be(8);
        run.Metrics[9].ValLoss.Should().BeApproximately(SyntheticRuns.Loss(10, 3) + 0.05, 1e-12);
        run.Metrics[0].Tokens.Should().Be(1024);
        run.GradFlow.Should().HaveCount(8);
        run.Params.Should().Be(100_003);
    }

    [Fact]
    public void Folder_without_metrics_and_csv_without_a_column_are_clear_errors()
    {
        var empty = Directory.CreateDirectory(Path.Combine(_root, "nothing")).FullName;
        FluentActions.Invoking(() => RunData.Load(empty)).Should().Throw<FileNotFoundException>().WithMessage("*has no metrics.csv*");
        var dir = SyntheticRuns.Write(_root, "broken", 0);
        File.WriteAllText(Path.Combine(dir, "metrics.csv"), "step,tokens,train_loss\n1,2,3\n");
        FluentActions.Invoking(() => RunData.Load(dir)).Should().Throw<InvalidDataException>().WithMessage("*lacks column(s) val_loss, lr*");
    }

    [Fact]
    public void Train_estimate_column_is_read_when_present_and_null_in_files_written_before_it()
    {
        var old = RunData.Load(SyntheticRuns.Write(_root, "old", 0, steps: 10));
        old.Metrics.Should().OnlyContain(m => m.TrainEvalLoss == null);

        var dir = Directory.CreateDirectory(Path.Combine(_root, "new", "seed0")).FullName;
        File.WriteAllText(Path.Combine(dir, "metrics.csv"),
            "step,tokens,train_loss,val_loss,train_eval_loss,lr,grad_norm,tokens_per_s,mfu,elapsed_s,rss_mb\n" +
            "0,0,4.1676,4.1649,4.1676,1e-05,0,0,0,1.5,230\n" +
            "10,7680,3.2,,,1e-4,1.1,15000,0.5,2.0,231\n" +
            "250,192000,2.4449,2.4447,2.4293,9.86e-4,0.4,15000,0.5,9.0,232\n");
        var rows = RunData.Load(dir).Metrics;
        rows.Select(m => m.TrainEvalLoss).Should().Equal(4.1676, null, 2.4293);
        rows.Select(m => m.ValLoss).Should().Equal(4.1649, null, 2.4447);
    }

    [Fact]
    public void Aggregate_is_the_mean_and_range_over_seeds_at_steps_every_seed_logged()
    {
        var a = RunData.Load(SyntheticRuns.Write(_root, "v", 0, steps: 40));
        var b = RunData.Load(SyntheticRuns.Write(_root, "v", 1, steps: 30)); // shorter: steps 31..40 have one seed only
        var points = Charts.Aggregate([a, b], m => m.Tokens, m => m.ValLoss);
        points.Should().HaveCount(6); // val at 5,10,...,30
        var p = points[1];
        p.X.Should().Be(10 * 1024);
        p.Mean.Should().BeApproximately((SyntheticRuns.Loss(10, 0) + SyntheticRuns.Loss(10, 1)) / 2 + 0.05, 1e-12);
        p.Lo.Should().BeApproximately(SyntheticRuns.Loss(10, 0) + 0.05, 1e-12);
        p.Hi.Should().BeApproximately(SyntheticRuns.Loss(10, 1) + 0.05, 1e-12);
    }

    [Fact]
    public void Comparison_writes_fixed_size_pngs_summary_csv_and_markdown()
    {
        var folders = new List<string>();
        foreach (var (variant, floor) in new[] { ("mha", 1.6), ("gqa", 1.5) })
            for (int seed = 0; seed < 2; seed++)
                folders.Add(SyntheticRuns.Write(_root, variant, seed, floor: floor));
        var outDir = Path.Combine(_root, "cmp");

        var report = Comparison.Write(folders, outDir);

        report.Pngs.Select(Path.GetFileName).Should().BeEquivalentTo(
            "loss_vs_tokens.png", "loss_vs_time.png", "lr_schedule.png", "throughput.png", "gradflow_mha.png", "gradflow_gqa.png");
        foreach (var png in report.Pngs)
            SyntheticRuns.PngSize(png).Should().Be((Charts.Width, Charts.Height));

        var csv = File.ReadAllLines(report.CsvPath);
        csv[0].Should().Be("variant,seed,final_val_loss,best_val_loss,tokens,wall_s,tokens_per_s,params,peak_rss_mb,folder");
        csv.Should().HaveCount(5);
        var gqa1 = csv.Single(l => l.StartsWith("gqa,1,")).Split(',');
        double.Parse(gqa1[2], System.Globalization.CultureInfo.InvariantCulture).Should().BeApproximately(SyntheticRuns.Loss(40, 1, 1.5) + 0.05, 1e-12);
        gqa1[4].Should().Be("40960");
        double.Parse(gqa1[5], System.Globalization.CultureInfo.InvariantCulture).Should().BeApproximately(40 * 0.05 * 1.1, 1e-9);
        gqa1[7].Should().Be("100003");
        gqa1[8].Should().Be("441");

        var md = File.ReadAllLines(report.MarkdownPath);
        md[0].Should().StartWith("| variant | seeds | final val loss | best val loss | tokens | wall time (s) | tokens/s | params | peak RSS (MB) |");
        md.Should().HaveCount(4);
        md[2].Should().StartWith("| mha | 2 | ");
        md[3].Should().StartWith("| gqa | 2 | ");
        var gqaMean = (SyntheticRuns.Loss(40, 0, 1.5) + SyntheticRuns.Loss(40, 1, 1.5)) / 2 + 0.05;
        md[3].Should().Contain($"| {gqaMean:F4} ± 0.0050 |");
        report.Best!.Value.Variant.Should().Be("gqa");
    }

    [Fact]
    public void Comparing_nothing_is_a_clear_error()
    {
        FluentActions.Invoking(() => Comparison.Write(Array.Empty<string>(), Path.Combine(_root, "x")))
            .Should().Throw<ArgumentException>().WithMessage("nothing to compare*");
    }
}

using System.Globalization;
using LMHarness.Plots;
using LMHarness.Reports;
using LMHarness.Runs;
using LMHarness.Tokenizers;

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
    public void New_metrics_columns_reach_the_rows_and_older_files_read_without_them()
    {
        var dir = SyntheticRuns.Write(_root, "v", 0, steps: 10, newColumns: true, bytesPerToken: 2, tokenizer: TokenizerIdentity.Gpt2);
        var run = RunData.Load(dir);
        var last = run.Metrics[^1];
        last.ValBpb.Should().BeApproximately((SyntheticRuns.Loss(10, 0) + 0.05) / (2 * Math.Log(2)), 1e-12);
        last.TrainS.Should().BeApproximately(10 * 0.05, 1e-12);
        last.EvalS.Should().BeApproximately(2 * SyntheticRuns.EvalSeconds, 1e-12);
        last.ElapsedS.Should().BeApproximately(0.5 + 1.0, 1e-12);
        var row = RunRow.Of(run);
        row.Tokenizer.Should().Be("gpt2 (50257 ids)");
        row.FinalValBpb.Should().Be(last.ValBpb);
        row.TokensPerSecond.Should().BeApproximately(10 * 1024 / 0.5, 1e-6, "throughput counts training time only");
        row.EvalSeconds.Should().BeApproximately(1.0, 1e-12);

        var old = RunData.Load(SyntheticRuns.Write(_root, "old", 0, steps: 10));
        RunRow.Of(old).Tokenizer.Should().BeNull();
        RunRow.Of(old).FinalValBpb.Should().BeNull();
        old.Metrics.Should().OnlyContain(m => m.ValBpb == null && m.EvalS == 0);

        // The throughput chart gives evaluation's share of wall time (1.0 s of 1.5 s), and none for older files.
        Charts.Throughput([run]).Subtitle.Should().Be("training tokens per second of training time (evaluation and checkpoint time excluded); evaluation took 67 % of wall time");
        Charts.Throughput([old]).Subtitle.Should().Be("training tokens per second of training time (evaluation and checkpoint time excluded)");
    }

    [Fact]
    public void Comparison_writes_fixed_size_pngs_csvs_markdown_and_html()
    {
        var folders = new List<string>();
        foreach (var (variant, floor) in new[] { ("mha", 1.6), ("gqa", 1.5) })
            for (int seed = 0; seed < 3; seed++)
                folders.Add(SyntheticRuns.Write(_root, variant, seed, floor: floor));
        var outDir = Path.Combine(_root, "cmp");

        var report = Comparison.Write(folders, outDir);

        report.Pngs.Select(Path.GetFileName).Should().BeEquivalentTo(
            "final_by_variant.png", "loss_vs_tokens.png", "loss_vs_time.png", "lr_schedule.png", "throughput.png", "gradflow_mha.png", "gradflow_gqa.png");
        foreach (var png in report.Pngs)
            SyntheticRuns.PngSize(png).Should().Be((Charts.Width, Charts.Height));
        Directory.GetFiles(outDir, "*.tmp").Should().BeEmpty();

        var csv = File.ReadAllLines(report.CsvPath);
        csv[0].Should().Be("variant,seed,final_val_loss,best_val_loss,final_val_bpb,tokens,wall_s,train_s,eval_s,tokens_per_s,params,peak_rss_mb,tokenizer,folder");
        csv.Should().HaveCount(7);
        var gqa1 = csv.Single(l => l.StartsWith("gqa,1,")).Split(',');
        double.Parse(gqa1[2], CultureInfo.InvariantCulture).Should().BeApproximately(SyntheticRuns.Loss(40, 1, 1.5) + 0.05, 1e-12);
        gqa1[4].Should().Be("", "no val_bpb column in this run");
        gqa1[5].Should().Be("40960");
        double.Parse(gqa1[6], CultureInfo.InvariantCulture).Should().BeApproximately(40 * 0.05 * 1.1, 1e-9);
        gqa1[10].Should().Be("100003");
        gqa1[11].Should().Be("441");

        // Seeds differ by 0.01 (offset 0.01 · seed): values m, m + 0.01, m + 0.02, so mean m + 0.01, std 0.01,
        // 95% half width t(0.975, 2) · 0.01 / √3 = 0.024841. gqa - mha = -0.1 exactly, same spread: Welch ν = 4.
        var gqaMean = SyntheticRuns.Loss(40, 1, 1.5) + 0.05;
        var stats = File.ReadAllLines(report.StatisticsCsvPath);
        stats[0].Should().Be("variant,metric,n,mean,std,ci_low,ci_high,diff_vs_baseline,diff_ci_low,diff_ci_high,welch_df,welch_p,seeds_to_resolve");
        var g = stats.Single(l => l.StartsWith("gqa,")).Split(',');
        g[1].Should().Be("final_val_loss");
        g[2].Should().Be("3");
        double.Parse(g[3], CultureInfo.InvariantCulture).Should().BeApproximately(gqaMean, 1e-12);
        double.Parse(g[4], CultureInfo.InvariantCulture).Should().BeApproximately(0.01, 1e-12);
        double.Parse(g[6], CultureInfo.InvariantCulture).Should().BeApproximately(gqaMean + 4.302652730 * 0.01 / Math.Sqrt(3), 1e-8);
        double.Parse(g[7], CultureInfo.InvariantCulture).Should().BeApproximately(-0.1, 1e-12);
        double.Parse(g[10], CultureInfo.InvariantCulture).Should().BeApproximately(4, 1e-9);
        stats.Single(l => l.StartsWith("mha,")).Split(',')[7].Should().Be("", "the baseline is not compared with itself");

        var md = File.ReadAllText(report.MarkdownPath);
        md.Should().StartWith($"**Headline:** {report.Headline}");
        md.Should().Contain("| variant | seeds | mean | std | 95% CI |");
        md.Should().Contain($"| gqa | 3 | {gqaMean:F4} | 0.0100 | [{gqaMean - 0.0248408:F4}, {gqaMean + 0.0248408:F4}] |");
        md.Should().Contain("### Against the baseline mha");
        md.Should().Contain("| gqa | -0.1000 | [");
        report.Winner.Should().Be("gqa");
        report.Headline.Should().StartWith($"gqa has the lowest final val loss (nats/token): {gqaMean:F4} (95% CI [");
        report.Headline.Should().Contain("the runner-up mha is higher by 0.1000");
    }

    [Fact]
    public void Html_report_is_self_contained_with_every_png_embedded_and_decodable()
    {
        var folders = new List<string>();
        foreach (var (variant, floor) in new[] { ("mha", 1.6), ("gqa", 1.5) })
            for (int seed = 0; seed < 2; seed++)
                folders.Add(SyntheticRuns.Write(_root, variant, seed, floor: floor, newColumns: true));
        var report = Comparison.Write(folders, Path.Combine(_root, "cmp"));

        var settings = new System.Xml.XmlReaderSettings { DtdProcessing = System.Xml.DtdProcessing.Ignore };
        using var reader = System.Xml.XmlReader.Create(report.HtmlPath, settings);
        var doc = System.Xml.Linq.XDocument.Load(reader); // well-formed, or this throws
        var all = doc.Descendants().ToList();
        var images = all.Where(e => e.Name.LocalName == "img").ToList();
        images.Should().HaveCount(report.Pngs.Count);
        foreach (var (img, png) in images.Zip(report.Pngs))
        {
            img.Attribute("alt")!.Value.Should().Be(Path.GetFileName(png));
            var src = img.Attribute("src")!.Value;
            src.Should().StartWith("data:image/png;base64,", "the page must not depend on files beside it");
            var bytes = Convert.FromBase64String(src["data:image/png;base64,".Length..]);
            bytes.Should().Equal(File.ReadAllBytes(png));
            using var bmp = SkiaSharp.SKBitmap.Decode(bytes);
            (bmp.Width, bmp.Height).Should().Be((Charts.Width, Charts.Height));
        }
        all.Where(e => e.Name.LocalName == "table").Should().HaveCount(4, "per variant, against the baseline, cost, runs");
        all.Single(e => e.Attribute("class")?.Value == "headline").Value.Should().Be("Headline: " + report.Headline);
        all.Where(e => e.Name.LocalName == "td").Select(e => e.Value).Should().Contain("gqa").And.Contain("mha");
        all.Any(e => e.Attribute("src") is { } s && !s.Value.StartsWith("data:", StringComparison.Ordinal)).Should().BeFalse();
    }

    [Fact]
    public void Comparing_nothing_is_a_clear_error()
    {
        FluentActions.Invoking(() => Comparison.Write(Array.Empty<string>(), Path.Combine(_root, "x")))
            .Should().Throw<ArgumentException>().WithMessage("nothing to compare*");
    }
}

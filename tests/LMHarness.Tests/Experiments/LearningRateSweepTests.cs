using System.Globalization;
using LMHarness.Config;
using LMHarness.Experiments;
using LMHarness.Reports;
using LMHarness.Runs;
using LMHarness.Tests.Training;

namespace LMHarness.Tests.Experiments;

public class LearningRateSweepTests
{
    [Fact]
    public void Grid_is_geometric_around_the_recipe_rate()
    {
        LearningRateSweep.Grid(3e-3).Should().Equal(7.5e-4, 1.5e-3, 3e-3, 6e-3, 1.2e-2); // factor 2: exact in binary
        LearningRateSweep.Grid(1e-3, 3, 10).Should().Equal(1e-4, 1e-3, 1e-2);
        FluentActions.Invoking(() => LearningRateSweep.Grid(1e-3, 2)).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*at least 3 rates*");
        LearningRateSweep.Format(3e-3).Should().Be("3e-3");
        LearningRateSweep.Format(7.5e-4).Should().Be("7.5e-4");
        LearningRateSweep.Format(1.2e-2).Should().Be("1.2e-2");
        LearningRateSweep.Format(1e-3).Should().Be("1e-3");
    }

    [Fact]
    public void The_grid_grows_past_an_edge_only_while_the_best_rate_sits_on_it()
    {
        LearningRateSweep.Extension(new Dictionary<double, double> { [1] = 2.0, [2] = 1.9, [4] = 2.1 }).Should().BeNull("the best is inside");
        LearningRateSweep.Extension(new Dictionary<double, double> { [1] = 1.8, [2] = 1.9, [4] = 2.1 }).Should().Be(0.5);
        LearningRateSweep.Extension(new Dictionary<double, double> { [1] = 2.2, [2] = 1.9, [4] = 1.7 }).Should().Be(8);
        // A rate whose runs diverged never wins; the best finite one is then the edge below it.
        LearningRateSweep.Extension(new Dictionary<double, double> { [1] = 2.2, [2] = 1.9, [4] = double.PositiveInfinity }).Should().BeNull();
        LearningRateSweep.Best(new Dictionary<double, double> { [1] = 2.2, [2] = 1.9, [4] = double.NaN }).Should().Be(2);
        FluentActions.Invoking(() => LearningRateSweep.Extension(new Dictionary<double, double> { [1] = double.NaN, [2] = double.PositiveInfinity }))
            .Should().Throw<InvalidOperationException>().WithMessage("every learning rate tried (1e0, 2e0) diverged*");
    }

    [Fact]
    public void A_rate_scales_every_learning_rate_of_the_schedule()
    {
        var t = new TrainingConfig { LearningRate = 3e-3, MinLearningRate = 3e-4, MuonLearningRate = 0.02 };
        var at = LearningRateSweep.At(t, 6e-3);
        (at.LearningRate, at.MinLearningRate, at.MuonLearningRate).Should().Be((6e-3, 6e-4, 0.04));
        at.Should().Be(t with { LearningRate = 6e-3, MinLearningRate = 6e-4, MuonLearningRate = 0.04 }, "nothing else changes");
    }

    [Fact]
    public void Sweep_table_marks_each_variants_best_rate_and_leaves_diverged_rates_empty()
    {
        // a: means 2.0 (1e-3), 1.9 (2e-3) -> best 2e-3. b: 2e-3 diverged in one seed -> no statistics, best 1e-3.
        var points = new List<SweepPoint>
        {
            new("a", 1e-3, [1.99, 2.01]), new("a", 2e-3, [1.89, 1.91]),
            new("b", 1e-3, [2.10, 2.12]), new("b", 2e-3, [1.5, double.NaN]),
        };
        LearningRateSweepReport.Best(points).Should().Equal(new Dictionary<string, double> { ["a"] = 2e-3, ["b"] = 1e-3 });
        var csv = LearningRateSweepReport.Csv(points).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        csv[0].Should().Be("variant,learning_rate,n,mean,std,ci_low,ci_high,min,max,best");
        csv[1].Should().StartWith("a,0.001,2,2,").And.EndWith(",1.99,2.01,false");
        csv[2].Should().EndWith(",true");
        csv[4].Should().Be("b,0.002,2,,,,,1.5,1.5,false");
        var chart = LearningRateSweepReport.Chart(points, [1e-3]);
        chart.Subtitle.Should().EndWith("diverged: b at 0.002");
    }

    [Fact]
    public void A_recipe_sets_the_defaults_of_seeds_and_sweep_points_and_the_command_line_overrides_them()
    {
        using var dir = new TempDir();
        var exp = new Experiment("defaults", ["--out", dir.Path], lrSweep: true, seeds: 2, sweepPoints: 7);
        (exp.Seeds, exp.SweepPoints, exp.LrSweep).Should().Be((2, 7, true));
        var given = new Experiment("defaults", ["--out", dir.Path, "--seeds", "4", "--lr_sweep_points", "3"], lrSweep: true, seeds: 2, sweepPoints: 7);
        (given.Seeds, given.SweepPoints).Should().Be((4, 3));
        exp.Sweep.Should().BeEmpty("nothing has run");
    }

    [Fact]
    public void Lr_sweep_trains_each_variant_over_the_grid_and_compares_them_at_their_best_rates()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var root = dir.File("runs");
        Experiment Recipe() // two variants that differ in width; 6 steps each, 2 seeds, a grid of 3 rates
        {
            var exp = new Experiment("sweep", ["--out", root, "--data", tokens, "--seeds", "2", "--lr_sweep", "--lr_sweep_points", "3"]);
            var t = TrainingFixtures.TinyTraining with { MaxSteps = 6, EvalInterval = 3, GradFlowInterval = 0, LearningRate = 2e-3, MinLearningRate = 2e-4 };
            exp.Variant("narrow", TrainingFixtures.TinyModel, t);
            exp.Variant("wide", TrainingFixtures.TinyModel with { DModel = 32, FfnHidden = 64 }, t);
            return exp;
        }
        var exp = Recipe();
        exp.LrSweep.Should().BeTrue();
        var report = exp.Run();

        var table = File.ReadAllLines(Path.Combine(exp.Folder, "lr_sweep.csv")).Skip(1).Select(l => l.Split(',')).ToList();
        // Experiment.Sweep holds what lr_sweep.csv lists: every variant at every rate, the seeds' losses.
        exp.Sweep.Select(p => (p.Variant, p.LearningRate, p.Mean.ToString("R", CultureInfo.InvariantCulture)))
            .Should().Equal(table.Select(r => (r[0], double.Parse(r[1], CultureInfo.InvariantCulture), double.Parse(r[3], CultureInfo.InvariantCulture).ToString("R", CultureInfo.InvariantCulture))));
        exp.Sweep.Should().OnlyContain(p => p.FinalValLosses.Count == 2);
        foreach (var variant in new[] { "narrow", "wide" })
        {
            var rows = table.Where(r => r[0] == variant).ToList();
            var rates = rows.Select(r => double.Parse(r[1], CultureInfo.InvariantCulture)).ToList();
            rates.Take(3).Should().Equal([1e-3, 2e-3, 4e-3], "the initial grid: the recipe's rate / 2, itself, x 2");
            rates.Should().BeInAscendingOrder();
            var means = rows.Select(r => double.Parse(r[3], CultureInfo.InvariantCulture)).ToList();
            var best = rows.Single(r => r[9] == "true");
            double.Parse(best[3], CultureInfo.InvariantCulture).Should().Be(means.Min());
            var bestRate = double.Parse(best[1], CultureInfo.InvariantCulture);
            // The rule: the best is inside the grid, or the grid grew the most it may.
            (bestRate != rates.Min() && bestRate != rates.Max() || rates.Count == 3 + LearningRateSweep.MaxExtensions).Should().BeTrue();
            Directory.Exists(Path.Combine(exp.Folder, variant, "seed0")).Should().BeTrue("the recipe's own rate keeps the variant's folder");
            foreach (var rate in rates.Where(r => r != 2e-3))
                Directory.Exists(Path.Combine(exp.Folder, $"{variant}_lr{LearningRateSweep.Format(rate)}", "seed1")).Should().BeTrue();

            // The comparison is of each variant at its best rate, under the variant's own name.
            var compared = report.Rows.Where(r => r.Variant == variant).ToList();
            compared.Should().HaveCount(2);
            compared.Average(r => r.FinalValLoss!.Value).Should().BeApproximately(means.Min(), 1e-12);
            var bestFolder = bestRate == 2e-3 ? variant : $"{variant}_lr{LearningRateSweep.Format(bestRate)}";
            compared.Select(r => r.Folder).Should().Equal(Path.Combine(exp.Folder, bestFolder, "seed0"), Path.Combine(exp.Folder, bestFolder, "seed1"));
            exp.RunFolder(variant, 1).Should().Be(Path.Combine(exp.Folder, bestFolder, "seed1"));
            new RunFolder(compared[0].Folder).ReadConfig().Training.LearningRate.Should().Be(bestRate);
        }
        Path.GetFileName(report.Pngs[0]).Should().Be("lr_sweep.png");
        var md = File.ReadAllText(report.MarkdownPath);
        md.Should().Contain("### Learning-rate sweep").And.Contain("- narrow: best rate ").And.Contain("- At the recipe's learning rates: ");
        File.ReadAllText(report.HtmlPath).Should().Contain("alt=\"lr_sweep.png\"");

        // Run again: every run of the sweep is reused.
        var again = Recipe().Run();
        File.ReadAllText(again.MarkdownPath).Should().NotContain(": new");
    }
}

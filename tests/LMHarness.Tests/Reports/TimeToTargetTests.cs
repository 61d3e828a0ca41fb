using LMHarness.Plots;
using LMHarness.Reports;
using LMHarness.Runs;

namespace LMHarness.Tests.Reports;

/// <summary>Time to a target validation loss: read at the first evaluation at or below it, in training seconds, with
/// the t-interval over seeds and the speedup line the speedrun prints.</summary>
public class TimeToTargetTests
{
    /// <summary>A run whose evaluations are (step, train_s, val) and whose other rows carry no val_loss.</summary>
    static RunData Run(string variant, int seed, params (long Step, double TrainS, double Val)[] evals)
    {
        var rows = new List<MetricsRow>();
        foreach (var (step, trainS, val) in evals)
        {
            rows.Add(new MetricsRow(step, step * 10, val + 0.1, null, null, null, 1e-3, 1, 100, 0, trainS + 1 + step, trainS - 0.5, step, 400));
            rows.Add(new MetricsRow(step, step * 10, val + 0.1, val, val - 0.1, null, 1e-3, 1, 100, 0, trainS + 2 + step, trainS, step + 1, 400));
        }
        return new RunData(new RunFolder($"/runs/{variant}/seed{seed}", variant, seed), rows, [], null, null);
    }

    [Fact]
    public void Crossing_is_the_first_evaluation_at_or_below_the_target_in_training_seconds()
    {
        var run = Run("a", 0, (0, 0, 4.2), (100, 10, 2.0), (200, 21, 1.899), (300, 33, 1.85));
        var c = TargetCrossing.Of(run.Metrics, 1.899)!;
        c.Should().Be(new TargetCrossing(200, 21, 201, 1.899), "≤ includes equality; train_s and eval_s of that row; rows without val_loss never count");
        TargetCrossing.Of(run.Metrics, 1.8).Should().BeNull();
    }

    [Fact]
    public void Variants_get_per_seed_times_a_t_interval_and_the_speedup_line()
    {
        var runs = new List<RunData>
        {
            Run("nanogpt", 0, (0, 0, 4.2), (1000, 50, 2.0), (2000, 100, 1.8985)),
            Run("speedrun", 0, (0, 0, 4.2), (100, 10, 2.0), (200, 20, 1.89)),
            Run("speedrun", 1, (0, 0, 4.2), (100, 12, 1.95), (200, 24, 1.88)),
            Run("speedrun", 2, (0, 0, 4.2), (100, 11, 1.898), (200, 22, 1.86)),
        };
        var times = TimeToTarget.Of(runs, 1.899);
        times.Select(v => v.Variant).Should().Equal("nanogpt", "speedrun");
        var s = times[1];
        s.Seeds.Select(x => x.Crossing!.TrainSeconds).Should().Equal(20, 24, 11);
        s.Time!.Mean.Should().BeApproximately(55.0 / 3, 1e-12);
        // t(0.975, 2) = 4.302653; s = sqrt(((20-18.33)^2 + (24-18.33)^2 + (11-18.33)^2) / 2) = 6.658328
        s.Time.HalfWidth!.Value.Should().BeApproximately(4.302653 * 6.658328 / Math.Sqrt(3), 1e-4);
        s.MeanFinalValLoss!.Value.Should().BeApproximately((1.89 + 1.88 + 1.86) / 3, 1e-12);

        TimeToTarget.SpeedupLine(times[0], s, 1.899, "nanoGPT").Should().Be("speedup vs nanoGPT: 5.45x (18.3 s vs 100.0 s to val 1.899)");
        var md = TimeToTarget.Markdown(times, times[0], 1.899);
        md.Should().Contain("| speedrun | 3/3 | 18.3 | 1.8 to 34.9 | 20.0 @ 200; 24.0 @ 200; 11.0 @ 100 | 5.45x (2.87 to 55.77) |");
        md.Should().Contain("| nanogpt | 1/1 | 100.0 |  | 100.0 @ 2000 | 1.00x |");
    }

    [Fact]
    public void A_seed_that_never_reaches_the_target_makes_the_speedup_not_available_and_is_shown()
    {
        var runs = new List<RunData>
        {
            Run("nanogpt", 0, (0, 0, 4.2), (2000, 100, 1.8985)),
            Run("speedrun", 0, (0, 0, 4.2), (200, 20, 1.89)),
            Run("speedrun", 1, (0, 0, 4.2), (300, 30, 1.93)),
        };
        var times = TimeToTarget.Of(runs, 1.899);
        times[1].Reached.Should().Be(1);
        times[1].Time!.N.Should().Be(1, "the mean is over the seeds that reached it");
        TimeToTarget.SpeedupLine(times[0], times[1], 1.899, "nanoGPT").Should().Be("speedup vs nanoGPT: n/a (speedrun: 1 of 2 seed(s) reached val 1.899)");
        TimeToTarget.Markdown(times, times[0], 1.899).Should().Contain("not reached (300 steps, 30.0 s)");
    }

    [Fact]
    public void Chart_draws_each_variant_against_training_seconds_with_the_target_line()
    {
        var runs = new List<RunData> { Run("nanogpt", 0, (0, 0, 4.2), (2000, 100, 1.8985)), Run("speedrun", 0, (0, 0, 4.2), (200, 20, 1.89)) };
        var chart = TimeToTarget.Chart(runs, 1.899);
        var lines = chart.Series.OfType<OxyPlot.Series.LineSeries>().ToList();
        lines.Select(l => l.Title).Should().Equal("nanogpt (1 seed)", "speedrun (1 seed)");
        lines[1].Points.Select(p => p.X).Should().Equal(0, 20);
        chart.Annotations.OfType<OxyPlot.Annotations.LineAnnotation>().Single().Y.Should().Be(1.899);
        using var dir = new TempDir();
        Charts.Save(chart, dir.File("t.png"));
        File.ReadAllBytes(dir.File("t.png")).Length.Should().BeGreaterThan(1000);
    }
}

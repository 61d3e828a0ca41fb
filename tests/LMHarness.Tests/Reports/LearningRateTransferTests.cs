using LMHarness.Reports;

namespace LMHarness.Tests.Reports;

/// <summary>
/// <see cref="LearningRateTransfer"/> on synthetic sweeps with known answers: a parabola in log2(rate) with its minimum at
/// a chosen rate, and two seeds at ±d around it, so the pooled seed std is d√2 exactly.
/// </summary>
public class LearningRateTransferTests
{
    static readonly double[] Rates = [.. Enumerable.Range(-10, 7).Select(k => Math.Pow(2, k))];   // 2^-10 .. 2^-4

    // loss(η) = 2 + curvature · (log2 η - log2 η*)², seeds at ±d: every point's std is d√2.
    static List<SweepPoint> Sweep(string variant, double best, double d, double curvature = 0.1, IEnumerable<double>? rates = null) =>
        [.. (rates ?? Rates).Select(r =>
        {
            double mean = 2 + curvature * Math.Pow(Math.Log2(r) - Math.Log2(best), 2);
            return new SweepPoint(variant, r, d == 0 ? [mean] : [mean - d, mean + d]);
        })];

    [Fact]
    public void The_rates_within_noise_are_those_whose_gap_to_the_best_is_under_the_pooled_t_half_width()
    {
        // d = 0.05: s_p = 0.05√2 on 7 df, threshold t(0.975, 7) · s_p · √(1/2 + 1/2) = 2.365 · 0.0707 = 0.167:
        // the neighbours (gap 0.1) are within it, the next ones (gap 0.4) are not.
        var noisy = LearningRateTransfer.Best(64, Sweep("w64", Math.Pow(2, -7), 0.05));
        noisy.Rate.Should().Be(Math.Pow(2, -7));
        noisy.MeanLoss.Should().BeApproximately(2, 1e-12);
        noisy.Noise.Should().BeApproximately(0.05 * Math.Sqrt(2), 1e-12);
        noisy.NoiseDf.Should().Be(7);
        LearningRateTransfer.Threshold(noisy.Noise, 7, 2, 2).Should().BeApproximately(StudentT.Quantile(0.975, 7) * 0.05 * Math.Sqrt(2), 1e-12);
        noisy.WithinNoise.Should().Equal(Math.Pow(2, -8), Math.Pow(2, -7), Math.Pow(2, -6));
        (noisy.Low, noisy.High).Should().Be((Math.Pow(2, -8), Math.Pow(2, -6)));

        // d = 0.01: threshold 0.033 < 0.1, the best stands alone.
        LearningRateTransfer.Best(64, Sweep("w64", Math.Pow(2, -7), 0.01)).WithinNoise.Should().Equal(Math.Pow(2, -7));
        // One seed: no spread to pool, no interval.
        var single = LearningRateTransfer.Best(64, Sweep("w64", Math.Pow(2, -7), 0));
        (single.WithinNoise, single.NoiseDf, double.IsNaN(single.Noise)).Should().Be((single.WithinNoise, 0, true));
        single.WithinNoise.Should().Equal(Math.Pow(2, -7));
    }

    [Fact]
    public void A_diverged_rate_is_neither_pooled_nor_within_noise_and_all_diverged_is_refused()
    {
        var points = Sweep("w64", Math.Pow(2, -4), 0.05);
        points[^1] = points[^1] with { FinalValLosses = [double.NaN, 2.0] };   // the best rate diverged in one seed
        var best = LearningRateTransfer.Best(64, points);
        best.Rate.Should().Be(Math.Pow(2, -5));
        best.NoiseDf.Should().Be(6);
        best.WithinNoise.Should().NotContain(Math.Pow(2, -4));
        var none = () => LearningRateTransfer.Best(64, [new SweepPoint("w64", 1e-3, [double.NaN, double.NaN])]);
        none.Should().Throw<ArgumentException>().WithMessage("width 64: every rate tried (1e-3) diverged*");
    }

    [Fact]
    public void Grid_steps_are_signed_log2_ratios()
    {
        LearningRateTransfer.GridSteps(1e-3, 4e-3).Should().Be(2);
        LearningRateTransfer.GridSteps(4e-3, 1e-3).Should().Be(-2);
        LearningRateTransfer.GridSteps(1e-3, 1e-2, 10).Should().Be(1);
        FluentActions.Invoking(() => LearningRateTransfer.GridSteps(0, 1e-3)).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*rates must be > 0*");
    }

    // SP-like: the optimum halves with every doubling of width (2^-5 at 32 .. 2^-8 at 256); μP-like: it stays at 2^-5.
    static WidthSweeps Family(string label, bool moves, double d = 0.02) => new(label,
        [.. new[] { 32, 64, 128, 256 }.Select(w => (w, (IReadOnlyList<SweepPoint>)Sweep($"d{w}", Math.Pow(2, -5) / (moves ? w / 32 : 1), d)))]);

    [Fact]
    public void Drift_span_and_the_transferred_rate_of_a_moving_and_a_fixed_optimum()
    {
        var sp = TransferResult.Of(Family("SP", moves: true));
        sp.Best.Select(b => b.Rate).Should().Equal(Math.Pow(2, -5), Math.Pow(2, -6), Math.Pow(2, -7), Math.Pow(2, -8));
        (sp.Drift, sp.Span).Should().Be((-3.0, 3.0));
        sp.Transferred!.Rate.Should().Be(Math.Pow(2, -5));
        sp.Transferred.Gap.Should().BeApproximately(0.1 * 9, 1e-12);
        sp.Transferred.WithinNoise.Should().BeFalse();

        var mup = TransferResult.Of(Family("μP", moves: false));
        (mup.Drift, mup.Span).Should().Be((0.0, 0.0));
        mup.Transferred!.Gap.Should().Be(0);
        mup.Transferred.WithinNoise.Should().BeTrue();

        var headline = LearningRateTransferReport.Headline([sp, mup]);
        headline.Should().Contain("SP: the best rate moved -3 grid step(s) from d_model 32 to 256").And.Contain("μP: the best rate moved 0 grid step(s)")
            .And.Contain("outside seed noise").And.Contain("within seed noise");
        LearningRateTransferReport.Markdown([sp, mup]).Should().Contain("| 256 | 3.906e-3 | 2.0000 | 3.906e-3 | 3.906e-3 .. 3.906e-3 | -3 | 0.0283 (7) |").And.Contain("**Headline:**");
    }

    [Fact]
    public void The_widest_never_trained_at_the_narrowests_best_rate_says_so_and_one_width_is_refused()
    {
        var shifted = new WidthSweeps("SP", [(32, Sweep("d32", Math.Pow(2, -9), 0.02, rates: Rates.Take(3))), (256, Sweep("d256", Math.Pow(2, -5), 0.02, rates: Rates.Skip(4)))]);
        var result = TransferResult.Of(shifted);
        result.Transferred.Should().BeNull();
        LearningRateTransferReport.Headline([result]).Should().Contain("the widest never trained at the narrowest's best rate");
        FluentActions.Invoking(() => TransferResult.Of(new WidthSweeps("SP", [(32, Sweep("d32", 1e-3, 0.02))])))
            .Should().Throw<ArgumentException>().WithMessage("SP: transfer needs at least two widths*");
    }

    [Fact]
    public void The_figure_is_one_png_of_the_standard_size()
    {
        using var dir = new TempDir();
        var path = LearningRateTransferReport.Figure([Family("SP", true), Family("μP", false)], dir.File("lr_transfer.png"));
        var header = File.ReadAllBytes(path).AsSpan(0, 24).ToArray();
        header[..8].Should().Equal(0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A);
        System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(16)).Should().Be(1200);
        System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(20)).Should().Be(750);
    }
}

using LMHarness.Reports;

namespace LMHarness.Tests.Reports;

public sealed class StatisticsTests
{
    [Theory] // two-sided 95 % critical values from any t table (e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2), 3 decimals
    [InlineData(1, 12.706)]
    [InlineData(2, 4.303)]
    [InlineData(3, 3.182)]
    [InlineData(4, 2.776)]
    [InlineData(5, 2.571)]
    [InlineData(10, 2.228)]
    [InlineData(30, 2.042)]
    [InlineData(120, 1.980)]
    public void T_quantile_matches_the_published_table(double df, double expected) =>
        StudentT.Quantile(0.975, df).Should().BeApproximately(expected, 0.0005);

    [Fact]
    public void T_cdf_and_quantile_match_the_closed_forms_for_one_and_two_degrees_of_freedom()
    {
        // ν = 1 is the Cauchy distribution: F(t) = ½ + atan(t)/π, quantile tan(π(p - ½)).
        // ν = 2: F(t) = ½ + t / (2√(2 + t²)), quantile (2p - 1) / √(2p(1 - p)).
        foreach (var t in new[] { -30.0, -2.5, -0.3, 0, 0.7, 4.303, 100 })
        {
            StudentT.Cdf(t, 1).Should().BeApproximately(0.5 + Math.Atan(t) / Math.PI, 1e-13);
            StudentT.Cdf(t, 2).Should().BeApproximately(0.5 + t / (2 * Math.Sqrt(2 + t * t)), 1e-13);
        }
        foreach (var p in new[] { 0.001, 0.1, 0.5, 0.8, 0.975, 0.9995 })
        {
            StudentT.Quantile(p, 1).Should().BeApproximately(Math.Tan(Math.PI * (p - 0.5)), 1e-9 * Math.Max(1, Math.Abs(Math.Tan(Math.PI * (p - 0.5)))));
            StudentT.Quantile(p, 2).Should().BeApproximately((2 * p - 1) / Math.Sqrt(2 * p * (1 - p)), 1e-11);
        }
    }

    [Fact]
    public void T_cdf_at_fractional_degrees_of_freedom_matches_integrating_the_density()
    {
        // Reference values: Simpson's rule over f(t) = Γ((ν+1)/2) / (√(νπ) Γ(ν/2)) (1 + t²/ν)^(-(ν+1)/2), 200,000 panels.
        StudentT.Cdf(1.5, 7).Should().BeApproximately(0.9113507565050, 1e-10);
        StudentT.Cdf(-2, 3.5).Should().BeApproximately(0.0630692612880, 1e-10);
        StudentT.Quantile(0.975, 50.0 / 17).Should().BeApproximately(3.2187586145, 1e-8);
        // Large ν approaches the normal: t(0.975, 1e6) = 1.95996.
        StudentT.Quantile(0.975, 1e6).Should().BeApproximately(1.959966, 2e-6);
        StudentT.Quantile(0.025, 7).Should().BeApproximately(-StudentT.Quantile(0.975, 7), 1e-12);
    }

    [Fact]
    public void Sample_stats_are_the_mean_sample_std_and_t_interval()
    {
        // {1.60, 1.62, 1.64}: mean 1.62, deviations ±0.02, s = √(0.0008 / 2) = 0.02,
        // half width t(0.975, 2) · 0.02 / √3 = 4.302653 · 0.011547005 = 0.049682.
        var s = SampleStats.Of([1.60, 1.62, 1.64]);
        s.N.Should().Be(3);
        s.Mean.Should().BeApproximately(1.62, 1e-12);
        s.Std!.Value.Should().BeApproximately(0.02, 1e-12);
        s.HalfWidth!.Value.Should().BeApproximately(4.302652730 * 0.02 / Math.Sqrt(3), 1e-9);
        s.CiLow!.Value.Should().BeApproximately(1.62 - 0.0496827, 1e-6);
        s.CiHigh!.Value.Should().BeApproximately(1.62 + 0.0496827, 1e-6);
    }

    [Fact]
    public void One_seed_gives_a_mean_but_no_std_interval_or_test()
    {
        var one = SampleStats.Of([2.0832]);
        one.Should().Be(new SampleStats(1, 2.0832, null, null, null));
        one.HalfWidth.Should().BeNull();
        WelchTest.Of(one, SampleStats.Of([2.1, 2.2])).Should().BeNull();
        SampleStats.PooledStd(one, SampleStats.Of([2.1, 2.2])).Should().BeNull();
        FluentActions.Invoking(() => SampleStats.Of([])).Should().Throw<ArgumentException>().WithMessage("no values*");
        FluentActions.Invoking(() => SampleStats.Of([1, double.NaN])).Should().Throw<ArgumentException>().WithMessage("*diverged*");
    }

    [Fact]
    public void Welch_test_worked_by_hand()
    {
        // a = {3, 5, 7}: mean 5, s² = (4 + 0 + 4)/2 = 4.   b = {1, 2, 3}: mean 2, s² = (1 + 0 + 1)/2 = 1.
        // se² = 4/3 + 1/3 = 5/3, se = 1.2909944; t = 3 / se = 2.3237900.
        // ν = (5/3)² / ((4/3)²/2 + (1/3)²/2) = (25/9) / (17/18) = 50/17 = 2.9411765.
        // t(0.975, 50/17) = 3.2187586 (density integrated), half width = 3.2187586 · 1.2909944 = 4.1553897.
        // p = 2 P(T > 2.32379) = 0.1044789 (density integrated): the interval contains 0, not resolved.
        var w = WelchTest.Of(SampleStats.Of([3, 5, 7]), SampleStats.Of([1, 2, 3]))!;
        w.Difference.Should().BeApproximately(3, 1e-12);
        w.StandardError.Should().BeApproximately(Math.Sqrt(5.0 / 3), 1e-12);
        w.Df.Should().BeApproximately(50.0 / 17, 1e-12);
        w.T.Should().BeApproximately(2.32379000772, 1e-10);
        w.CiLow.Should().BeApproximately(3 - 3.2187586145 * Math.Sqrt(5.0 / 3), 1e-8);
        w.CiHigh.Should().BeApproximately(3 + 3.2187586145 * Math.Sqrt(5.0 / 3), 1e-8);
        w.P.Should().BeApproximately(0.1044788867, 1e-8);
        w.Resolved.Should().BeFalse();

        // Swapping the groups flips the sign and keeps p.
        var back = WelchTest.Of(SampleStats.Of([1, 2, 3]), SampleStats.Of([3, 5, 7]))!;
        back.Difference.Should().BeApproximately(-3, 1e-12);
        back.P.Should().BeApproximately(w.P, 1e-14);
    }

    [Fact]
    public void Welch_with_equal_variances_and_sizes_reduces_to_students_t()
    {
        // n = 4 each with the same spread: s² = (0.015² + 0.005² + 0.005² + 0.015²) / 3 = 0.0005/3, s = 0.0129099;
        // ν = 2n - 2 = 6 exactly, se = s √(2/4) = 0.0091287; gap -0.03 -> t = -3.2863, p = 2 F(-3.2863; 6) < 0.05.
        var a = SampleStats.Of([1.50, 1.51, 1.52, 1.53]);
        var b = SampleStats.Of([1.53, 1.54, 1.55, 1.56]);
        a.Std!.Value.Should().BeApproximately(Math.Sqrt(0.0005 / 3), 1e-12);
        var w = WelchTest.Of(a, b)!;
        w.Df.Should().BeApproximately(6, 1e-9);
        w.T.Should().BeApproximately(-0.03 / (Math.Sqrt(0.0005 / 3) * Math.Sqrt(0.5)), 1e-9);
        w.P.Should().BeApproximately(2 * StudentT.Cdf(w.T, 6), 1e-14);
        w.P.Should().BeInRange(0.01, 0.05);
        w.CiHigh.Should().BeLessThan(0);
        w.Resolved.Should().BeTrue();
    }

    [Fact]
    public void Identical_seeds_have_no_spread_to_test()
    {
        WelchTest.Of(SampleStats.Of([2, 2, 2]), SampleStats.Of([3, 3])).Should().BeNull();
    }

    [Theory] // Cohen (1988) table 2.4.1 and R's power.t.test(delta, sd = 1, power = 0.8): n = 63.77 -> 64, 16.71 -> 17, ...
    [InlineData(0.5, 64)]
    [InlineData(0.8, 26)]
    [InlineData(1.0, 17)]
    [InlineData(0.2, 394)] // R: 393.4 -> 394 (Cohen's table rounds to 393)
    public void Seeds_needed_match_published_power_tables(double effect, int expected)
    {
        PowerAnalysis.SeedsPerVariant(effect * 0.01, 0.01).Should().Be(expected);
    }

    [Fact]
    public void Power_matches_r_power_t_test()
    {
        // R: power.t.test(n = 20, delta = 1) -> power = 0.8689528 (one tail; the other adds ~1e-7).
        PowerAnalysis.Power(20, 1.0).Should().BeApproximately(0.8689528, 2e-6);
        // The integer answer is the first n past the target: 16 per group falls short, 17 reaches it.
        PowerAnalysis.Power(16, 1.0).Should().BeLessThan(0.8);
        PowerAnalysis.Power(17, 1.0).Should().BeGreaterThanOrEqualTo(0.8);
        // No effect: power = α.
        PowerAnalysis.Power(10, 0).Should().BeApproximately(0.05, 1e-6);
    }

    [Fact]
    public void No_gap_or_no_spread_gives_no_estimate()
    {
        PowerAnalysis.SeedsPerVariant(0, 0.01).Should().BeNull();
        PowerAnalysis.SeedsPerVariant(0.01, 0).Should().BeNull();
        PowerAnalysis.SeedsPerVariant(1e-9, 1).Should().BeNull(); // more than a million seeds
        PowerAnalysis.SeedsPerVariant(10, 0.01).Should().Be(2);
    }
}

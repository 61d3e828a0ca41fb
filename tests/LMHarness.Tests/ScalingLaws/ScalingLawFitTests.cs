using LMHarness.ScalingLaws;
using Xunit.Abstractions;

namespace LMHarness.Tests.ScalingLaws;

/// <summary>
/// Chinchilla approach 3 on synthetic runs drawn from a known law (Besiroglu et al. 2024's refit) with log-normal
/// noise on the loss: the fit must recover the law, and its bootstrap intervals must cover the truth.
/// </summary>
public sealed class ScalingLawFitTests(ITestOutputHelper output)
{
    static readonly ChinchillaLaw Truth = ChinchillaLaw.Besiroglu2024;

    /// <summary>5 model sizes (10^7 .. 10^9) by 4 token budgets (10^8 .. 10^11), loss x exp(σ ε).</summary>
    internal static List<ScalingRun> Grid(ChinchillaLaw law, double noise, int seed)
    {
        var rng = new Random(seed);
        var runs = new List<ScalingRun>();
        foreach (var logN in new[] { 7.0, 7.5, 8, 8.5, 9 })
            foreach (var logD in new[] { 8.0, 9, 10, 11 })
            {
                double n = Math.Pow(10, logN), d = Math.Pow(10, logD);
                runs.Add(ScalingRun.SixND(n, d, law.Loss(n, d) * Math.Exp(noise * Gaussian(rng))));
            }
        return runs;
    }

    static double Gaussian(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    [Fact]
    public void ScalingLaw_noise_free_runs_are_recovered_to_tight_tolerance()
    {
        var fit = ChinchillaFit.Fit(Grid(Truth, 0, seed: 1), new ChinchillaFitOptions { Resamples = 0 });
        var law = fit.Law;
        output.WriteLine($"{law} objective {fit.Objective:G3}");
        law.E.Should().BeApproximately(Truth.E, 1e-3 * Truth.E);
        law.A.Should().BeApproximately(Truth.A, 1e-2 * Truth.A);
        law.B.Should().BeApproximately(Truth.B, 1e-2 * Truth.B);
        law.Alpha.Should().BeApproximately(Truth.Alpha, 1e-3);
        law.Beta.Should().BeApproximately(Truth.Beta, 1e-3);
    }

    [Fact]
    public void ScalingLaw_noisy_runs_are_recovered_within_their_bootstrap_intervals()
    {
        var fit = ChinchillaFit.Fit(Grid(Truth, 0.005, seed: 2));
        foreach (var (name, interval, truth) in new[]
                 {
                     ("E", fit.E, Truth.E), ("A", fit.A, Truth.A), ("B", fit.B, Truth.B),
                     ("alpha", fit.Alpha, Truth.Alpha), ("beta", fit.Beta, Truth.Beta),
                     ("a", fit.ParameterExponent, Truth.ParameterExponent), ("b", fit.TokenExponent, Truth.TokenExponent),
                 })
        {
            output.WriteLine($"{name}: {interval} (truth {truth:G4})");
            interval.Contains(truth).Should().BeTrue($"the 95 % interval of {name}, {interval}, should cover the truth {truth}");
        }
        fit.ParameterExponent.Estimate.Should().BeApproximately(Truth.ParameterExponent, 0.03);
        fit.TokenExponent.Estimate.Should().BeApproximately(Truth.TokenExponent, 0.03);
    }
}

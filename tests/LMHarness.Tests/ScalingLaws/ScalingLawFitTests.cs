using LMHarness.Config;
using LMHarness.ScalingLaws;
using LMHarness.Summary;
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

    [Fact]
    public void ScalingLaw_intervals_tell_the_refit_from_the_published_Chinchilla_law()
    {
        // Negative control on the intervals' width: Besiroglu et al. refit β = 0.37 and B = 2085 where Hoffmann et al.
        // published 0.28 and 411; intervals wide enough to hold both would be no evidence of anything.
        var fit = ChinchillaFit.Fit(Grid(Truth, 0.005, seed: 2), new ChinchillaFitOptions { Resamples = 100 });
        fit.Beta.Contains(ChinchillaLaw.Hoffmann2022.Beta).Should().BeFalse($"β's interval {fit.Beta} should exclude 0.28");
        fit.B.Contains(ChinchillaLaw.Hoffmann2022.B).Should().BeFalse($"B's interval {fit.B} should exclude 411");
    }

    [Fact]
    public void ScalingLaw_Huber_delta_of_the_paper_resists_an_outlier_that_least_squares_follows()
    {
        // One run of twenty reports a loss 30 % too high (a diverged run). With δ = 1e-3 the residual of that run
        // costs linearly and the other nineteen decide; with δ = 10 the objective is least squares on log-loss and
        // the outlier drags the law.
        var runs = Grid(Truth, 0, seed: 3);
        runs[7] = runs[7] with { Loss = runs[7].Loss * 1.3 };
        var huber = ChinchillaFit.Fit(runs, new ChinchillaFitOptions { Resamples = 0 }).Law;
        var squares = ChinchillaFit.Fit(runs, new ChinchillaFitOptions { Resamples = 0, HuberDelta = 10 }).Law;
        output.WriteLine($"δ = 1e-3: {huber}\nδ = 10:   {squares}");
        huber.Alpha.Should().BeApproximately(Truth.Alpha, 0.01);
        huber.Beta.Should().BeApproximately(Truth.Beta, 0.01);
        (Math.Abs(squares.Alpha - Truth.Alpha) + Math.Abs(squares.Beta - Truth.Beta)).Should().BeGreaterThan(0.05);
    }

    [Fact]
    public void ScalingLaw_a_single_bad_initialisation_stalls_where_the_grid_does_not()
    {
        // From a = b = 0, α = β = 2 the power-law terms are ~e^-32 of E: their gradients vanish and L-BFGS stops on
        // the plateau L = E. The grid's best starts find the law.
        var runs = Grid(Truth, 0, seed: 4);
        var single = ChinchillaFit.Fit(runs, new ChinchillaFitOptions
        {
            Resamples = 0, Starts = 1, ExponentGrid = [2], LogEGrid = [1.5], LogCoefficientGrid = [0],
        });
        var grid = ChinchillaFit.Fit(runs, new ChinchillaFitOptions { Resamples = 0 });
        output.WriteLine($"single start: {single.Law} objective {single.Objective:G3}\ngrid: objective {grid.Objective:G3}");
        single.Objective.Should().BeGreaterThan(1000 * grid.Objective + 1e-6);
        Math.Abs(single.Law.Alpha - Truth.Alpha).Should().BeGreaterThan(0.1);
    }

    [Fact]
    public void ScalingLaw_prediction_interval_covers_new_runs_where_the_laws_interval_does_not()
    {
        // Runs scatter 3 % around the law. A new run at a point off the fitted ones: over 400 draws of it, the
        // prediction interval holds about 95 %; the law's confidence interval, which only moves the parameters, far fewer.
        // Five replicates of the grid (100 runs), so the law itself is pinned down to about ±2 %.
        var runs = Enumerable.Range(6, 5).SelectMany(seed => Grid(Truth, 0.03, seed)).ToList();
        var fit = ChinchillaFit.Fit(runs, new ChinchillaFitOptions { Resamples = 100 });
        double n = Math.Pow(10, 8.25), d = Math.Pow(10, 9.5);
        var run = fit.PredictRun(n, d);
        var law = fit.PredictLoss(n, d);
        run.Estimate.Should().Be(law.Estimate);
        var rng = new Random(7);
        var draws = Enumerable.Range(0, 400).Select(_ => Truth.Loss(n, d) * Math.Exp(0.03 * Gaussian(rng))).ToArray();
        double runCoverage = draws.Count(run.Contains) / 400.0, lawCoverage = draws.Count(law.Contains) / 400.0;
        output.WriteLine($"run {run}: {runCoverage:P1}; law {law}: {lawCoverage:P1}");
        runCoverage.Should().BeInRange(0.9, 1.0);
        lawCoverage.Should().BeLessThan(0.7);
    }

    [Fact]
    public void ScalingLaw_huber_gradient_matches_finite_differences()
    {
        var runs = Grid(Truth, 0.01, seed: 5);
        double[] theta = [6.0, 7.5, 0.6, 0.4, 0.3];
        foreach (var delta in new[] { 1e-3, 1.0 })
        {
            var (_, gradient) = ChinchillaFit.HuberObjective(runs, theta, delta);
            for (int i = 0; i < 5; i++)
            {
                double h = 1e-6;
                var plus = (double[])theta.Clone(); plus[i] += h;
                var minus = (double[])theta.Clone(); minus[i] -= h;
                double numeric = (ChinchillaFit.HuberObjective(runs, plus, delta).Value - ChinchillaFit.HuberObjective(runs, minus, delta).Value) / (2 * h);
                gradient[i].Should().BeApproximately(numeric, 1e-6 * Math.Max(1, Math.Abs(numeric)), $"∂/∂θ{i} at δ = {delta}");
            }
        }
    }

    [Fact]
    public void ScalingLaw_compute_optimal_split_matches_the_closed_form_and_its_exponents()
    {
        foreach (var c in new[] { 1e18, 1e21, 1e24 })
        {
            var closed = Truth.ComputeOptimalSixND(c);
            var searched = Truth.ComputeOptimal(c, n => 6 * n);
            searched.Parameters.Should().BeApproximately(closed.Parameters, 1e-6 * closed.Parameters);
            searched.Tokens.Should().BeApproximately(closed.Tokens, 1e-6 * closed.Tokens);
            (6 * closed.Parameters * closed.Tokens).Should().BeApproximately(c, 1e-9 * c);
        }
        // N* ∝ C^a: the slope over three decades of compute.
        double slope = Math.Log(Truth.ComputeOptimalSixND(1e24).Parameters / Truth.ComputeOptimalSixND(1e21).Parameters) / Math.Log(1e3);
        slope.Should().BeApproximately(Truth.ParameterExponent, 1e-12);
        (Truth.ParameterExponent + Truth.TokenExponent).Should().BeApproximately(1, 1e-15);
        // Chinchilla's own headline: at Gopher's budget (5.76e23 FLOPs) Hoffmann et al.'s approach-3 law asks for ~40 B parameters.
        ChinchillaLaw.Hoffmann2022.ComputeOptimalSixND(5.76e23).Parameters.Should().BeInRange(30e9, 50e9);
    }

    [Fact]
    public void ScalingLaw_run_compute_is_the_harness_flops_per_token_times_tokens()
    {
        var config = new ModelConfig { VocabSize = 65, ContextLength = 128, NLayer = 2, DModel = 64, NHead = 4, NKvHead = 4, FfnHidden = 256 };
        var summary = ModelSummary.Of(config);
        var run = ScalingRun.Of(summary, 1e6, 2.5);
        run.Compute.Should().Be(summary.FlopsPerToken() * 1e6);
        run.Parameters.Should().Be(summary.TotalParameters - summary.LookupParameters);
        // The attention term 12 L d T makes the harness's count exceed 6 N D.
        run.Compute.Should().BeGreaterThan(6 * run.Parameters * run.Tokens);
    }

    [Fact]
    public void ScalingLaw_isoflop_parabolas_agree_with_approach_3()
    {
        // Approach 2 on IsoFLOP profiles: four budgets, five sizes each spread around the true N*(C).
        var runs = new List<ScalingRun>();
        foreach (var c in new[] { 1e18, 1e19, 1e20, 1e21 })
        {
            double nStar = Truth.ComputeOptimalSixND(c).Parameters;
            foreach (var factor in new[] { 0.25, 0.5, 1, 2, 4 })
            {
                double n = nStar * factor, d = c / (6 * n);
                runs.Add(ScalingRun.SixND(n, d, Truth.Loss(n, d)));
            }
        }
        var iso = IsoFlopFit.Fit(runs);
        var fit = ChinchillaFit.Fit(runs, new ChinchillaFitOptions { Resamples = 0 });
        output.WriteLine($"approach 2: a = {iso.ParameterExponent}, b = {iso.TokenExponent}; approach 3: a = {fit.Law.ParameterExponent:F4}; truth a = {Truth.ParameterExponent:F4}");
        iso.Profiles.Should().HaveCount(4);
        iso.ParameterExponent.Estimate.Should().BeApproximately(Truth.ParameterExponent, 0.02);
        iso.TokenExponent.Estimate.Should().BeApproximately(Truth.TokenExponent, 0.02);
        iso.ParameterExponent.Estimate.Should().BeApproximately(fit.Law.ParameterExponent, 0.02);
        foreach (var p in iso.Profiles)
            p.OptimalParameters.Should().BeApproximately(Truth.ComputeOptimalSixND(p.Compute).Parameters, 0.1 * p.OptimalParameters);
    }

    [Fact]
    public void ScalingLaw_isoflop_refuses_a_profile_whose_sizes_do_not_bracket_the_optimum()
    {
        // All five sizes far above N*: loss rises monotonically, the parabola has no interior minimum to trust.
        var runs = new List<ScalingRun>();
        foreach (var c in new[] { 1e18, 1e19 })
            foreach (var factor in new[] { 30.0, 60, 120 })
            {
                double n = Truth.ComputeOptimalSixND(c).Parameters * factor, d = c / (6 * n);
                runs.Add(ScalingRun.SixND(n, d, Truth.Loss(n, d)));
            }
        var act = () => IsoFlopFit.Fit(runs);
        act.Should().Throw<ArgumentException>().WithMessage("*bracket*");
    }
}

using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.Optimization;

namespace LMHarness.ScalingLaws;

/// <summary>A percentile-bootstrap interval around a point estimate.</summary>
public readonly record struct Interval(double Estimate, double Low, double High)
{
    /// <summary>Whether <paramref name="value"/> lies in [Low, High].</summary>
    public bool Contains(double value) => value >= Low && value <= High;

    /// <summary>The central <paramref name="level"/> percentile interval of <paramref name="samples"/> (bootstrap draws)
    /// around <paramref name="estimate"/>; NaN bounds when there are no samples.</summary>
    public static Interval Percentile(double estimate, IReadOnlyCollection<double> samples, double level)
    {
        if (samples.Count == 0) return new Interval(estimate, double.NaN, double.NaN);
        var values = samples.ToArray();
        return new Interval(estimate, MathNet.Numerics.Statistics.Statistics.Quantile(values, (1 - level) / 2),
                            MathNet.Numerics.Statistics.Statistics.Quantile(values, (1 + level) / 2));
    }

    public override string ToString() => $"{Estimate:G4} [{Low:G4}, {High:G4}]";
}

/// <summary>How <see cref="ChinchillaFit"/> fits: the Huber δ, the grid of starts, the bootstrap.</summary>
public sealed record ChinchillaFitOptions
{
    /// <summary>Huber's δ on log-loss residuals: 1e-3 in Hoffmann et al. 2022 and Besiroglu et al. 2024.</summary>
    public double HuberDelta { get; init; } = 1e-3;

    /// <summary>Starting α and β (Hoffmann et al.: 0, 0.5, ..., 2).</summary>
    public double[] ExponentGrid { get; init; } = [0, 0.5, 1, 1.5, 2];

    /// <summary>Starting e = log E (Hoffmann et al.: -1, -0.5, ..., 1.5).</summary>
    public double[] LogEGrid { get; init; } = [-1, -0.5, 0, 0.5, 1, 1.5];

    /// <summary>Starting a = log A and b = log B (Hoffmann et al.: 0, 5, ..., 25).</summary>
    public double[] LogCoefficientGrid { get; init; } = [0, 5, 10, 15, 20, 25];

    /// <summary>
    /// L-BFGS runs from this many grid points, those with the lowest objective (all of them when at least the grid's
    /// size). The grid's 5400 points cost one objective each; a descent costs a few hundred.
    /// </summary>
    public int Starts { get; init; } = 64;

    /// <summary>Bootstrap resamples of the runs (0: no intervals).</summary>
    public int Resamples { get; init; } = 200;

    /// <summary>Starts per bootstrap refit: the full-data optimum, then the best grid points on the resample.</summary>
    public int ResampleStarts { get; init; } = 4;

    /// <summary>Two-sided coverage of the intervals.</summary>
    public double Level { get; init; } = 0.95;

    /// <summary>Seed of the bootstrap's resampling.</summary>
    public int Seed { get; init; } = 0;
}

/// <summary>
/// Chinchilla's approach 3 (Hoffmann et al. 2022, §3.3 and appendix D.2), as Besiroglu et al. 2024 replicate it:
/// fit L(N, D) = E + A/N^α + B/D^β by minimising, over θ = (a, b, e, α, β) with A = eᵃ, B = eᵇ, E = eᵉ,
/// <code>
///   Σᵢ Huber_δ( LSE(a - α log Nᵢ, b - β log Dᵢ, e) - log Lᵢ ),   δ = 10⁻³,
/// </code>
/// where LSE is log-sum-exp (so the fit is on log-loss and E, A, B stay positive), with L-BFGS
/// (MathNet.Numerics' <see cref="LimitedMemoryBfgsMinimizer"/>) from the best points of their grid of
/// initialisations, keeping the lowest objective. Intervals are percentile bootstraps over resampled runs
/// (Besiroglu et al. §3: the published intervals were implausibly narrow; theirs come from the bootstrap).
/// </summary>
public sealed class ChinchillaFit
{
    /// <summary>The fit to all runs.</summary>
    public ChinchillaLaw Law { get; }

    /// <summary>The Huber objective at <see cref="Law"/>.</summary>
    public double Objective { get; }

    /// <summary>The fits to the bootstrap resamples (empty when <see cref="ChinchillaFitOptions.Resamples"/> is 0).</summary>
    public IReadOnlyList<ChinchillaLaw> Bootstrap { get; }

    /// <summary>The runs fitted.</summary>
    public IReadOnlyList<ScalingRun> Runs { get; }

    /// <summary>The options fitted with.</summary>
    public ChinchillaFitOptions Options { get; }

    ChinchillaFit(ChinchillaLaw law, double objective, IReadOnlyList<ChinchillaLaw> bootstrap, IReadOnlyList<ScalingRun> runs, ChinchillaFitOptions options) =>
        (Law, Objective, Bootstrap, Runs, Options) = (law, objective, bootstrap, runs, options);

    /// <summary>Fits <paramref name="runs"/> (at least 5, one per parameter) and bootstraps the intervals.</summary>
    public static ChinchillaFit Fit(IReadOnlyList<ScalingRun> runs, ChinchillaFitOptions? options = null)
    {
        options ??= new ChinchillaFitOptions();
        if (runs.Count < 5) throw new ArgumentException($"five parameters need at least 5 runs (got {runs.Count}).", nameof(runs));
        foreach (var r in runs)
            if (!(r.Parameters > 0 && r.Tokens > 0 && r.Loss > 0))
                throw new ArgumentException($"every run needs N, D and L > 0 (got N={r.Parameters}, D={r.Tokens}, L={r.Loss}).", nameof(runs));
        var (theta, objective) = Minimise(runs, options, GridStarts(runs, options, options.Starts));
        var rng = new Random(options.Seed);
        var bootstrap = new List<ChinchillaLaw>(options.Resamples);
        var sample = new ScalingRun[runs.Count];
        for (int k = 0; k < options.Resamples; k++)
        {
            for (int i = 0; i < sample.Length; i++) sample[i] = runs[rng.Next(runs.Count)];
            var starts = GridStarts(sample, options, options.ResampleStarts - 1).Prepend(theta);
            bootstrap.Add(ToLaw(Minimise(sample, options, starts).Theta));
        }
        return new ChinchillaFit(ToLaw(theta), objective, bootstrap, runs.ToArray(), options);
    }

    /// <summary>
    /// The estimate of any quantity of the law (a parameter, an exponent, a predicted loss) with its percentile
    /// bootstrap interval at <see cref="ChinchillaFitOptions.Level"/>.
    /// </summary>
    public Interval IntervalOf(Func<ChinchillaLaw, double> quantity)
    {
        return Interval.Percentile(quantity(Law), Bootstrap.Select(quantity).Where(double.IsFinite).ToArray(), Options.Level);
    }

    public Interval E => IntervalOf(l => l.E);
    public Interval A => IntervalOf(l => l.A);
    public Interval B => IntervalOf(l => l.B);
    public Interval Alpha => IntervalOf(l => l.Alpha);
    public Interval Beta => IntervalOf(l => l.Beta);

    /// <summary>a = β/(α+β), N*(C) ∝ C^a.</summary>
    public Interval ParameterExponent => IntervalOf(l => l.ParameterExponent);

    /// <summary>b = α/(α+β), D*(C) ∝ C^b.</summary>
    public Interval TokenExponent => IntervalOf(l => l.TokenExponent);

    /// <summary>The law's loss at N parameters trained on D tokens, with its (confidence) interval: where the law is, not where one run lands.</summary>
    public Interval PredictLoss(double parameters, double tokens) => IntervalOf(l => l.Loss(parameters, tokens));

    /// <summary>
    /// A prediction interval for one new run of N parameters on D tokens: each bootstrap law's loss times exp(r) for
    /// log-loss residuals r of the fit drawn at random (<paramref name="draws"/> per law), so it holds the runs'
    /// scatter around the law as well as the law's own uncertainty (<see cref="PredictLoss"/> holds only the latter).
    /// The residuals are the fitted runs', so a misfit that is systematic at (N, D) is still not covered.
    /// </summary>
    public Interval PredictRun(double parameters, double tokens, int draws = 20)
    {
        var residuals = Runs.Select(r => Math.Log(r.Loss) - Math.Log(Law.Loss(r.Parameters, r.Tokens))).ToArray();
        var rng = new Random(Options.Seed + 1);
        var values = Bootstrap.SelectMany(l => Enumerable.Range(0, draws).Select(_ => l.Loss(parameters, tokens) * Math.Exp(residuals[rng.Next(residuals.Length)])))
                              .Where(double.IsFinite).ToArray();
        return Interval.Percentile(Law.Loss(parameters, tokens), values, Options.Level);
    }

    /// <summary>Huber's loss: r²/2 within δ, linear (δ|r| - δ²/2) beyond.</summary>
    public static double Huber(double r, double delta) =>
        Math.Abs(r) <= delta ? 0.5 * r * r : delta * (Math.Abs(r) - 0.5 * delta);

    /// <summary>θ = (a, b, e, α, β) → the law (A = eᵃ, B = eᵇ, E = eᵉ).</summary>
    static ChinchillaLaw ToLaw(Vector<double> t) => new(Math.Exp(t[2]), Math.Exp(t[0]), Math.Exp(t[1]), t[3], t[4]);

    /// <summary>The Huber objective over θ and its gradient (exact: the softmax weights of the LSE times ψ_δ(r)).</summary>
    public static (double Value, double[] Gradient) HuberObjective(IReadOnlyList<ScalingRun> runs, double[] theta, double delta)
    {
        double a = theta[0], b = theta[1], e = theta[2], alpha = theta[3], beta = theta[4];
        double value = 0;
        var g = new double[5];
        foreach (var run in runs)
        {
            double logN = Math.Log(run.Parameters), logD = Math.Log(run.Tokens);
            double u = a - alpha * logN, v = b - beta * logD, m = Math.Max(e, Math.Max(u, v));
            double wu = Math.Exp(u - m), wv = Math.Exp(v - m), we = Math.Exp(e - m), s = wu + wv + we;
            double r = m + Math.Log(s) - Math.Log(run.Loss);
            value += Huber(r, delta);
            double psi = Math.Clamp(r, -delta, delta); // Huber'(r)
            wu *= psi / s; wv *= psi / s; we *= psi / s;
            g[0] += wu; g[1] += wv; g[2] += we; g[3] -= wu * logN; g[4] -= wv * logD;
        }
        return (value, g);
    }

    /// <summary>The <paramref name="count"/> grid points with the lowest objective on <paramref name="runs"/>.</summary>
    static IEnumerable<Vector<double>> GridStarts(IReadOnlyList<ScalingRun> runs, ChinchillaFitOptions o, int count)
    {
        if (count <= 0) return [];
        var grid = from alpha in o.ExponentGrid from beta in o.ExponentGrid from e in o.LogEGrid
                   from a in o.LogCoefficientGrid from b in o.LogCoefficientGrid
                   select new[] { a, b, e, alpha, beta };
        return grid.Select(t => (Theta: t, Value: HuberObjective(runs, t, o.HuberDelta).Value))
                   .OrderBy(p => p.Value).Take(count)
                   .Select(p => Vector<double>.Build.DenseOfArray(p.Theta)).ToArray();
    }

    /// <summary>L-BFGS from every start; the lowest objective wins. A descent that fails (line search) is dropped.</summary>
    static (Vector<double> Theta, double Value) Minimise(IReadOnlyList<ScalingRun> runs, ChinchillaFitOptions o, IEnumerable<Vector<double>> starts)
    {
        var objective = ObjectiveFunction.Gradient(t =>
        {
            var (value, gradient) = HuberObjective(runs, t.AsArray() ?? t.ToArray(), o.HuberDelta);
            return (value, Vector<double>.Build.DenseOfArray(gradient));
        });
        var minimizer = new LimitedMemoryBfgsMinimizer(1e-11, 1e-12, 1e-15, 10, 2000);
        Vector<double>? best = null;
        double bestValue = double.PositiveInfinity;
        foreach (var start in starts)
        {
            try
            {
                var result = minimizer.FindMinimum(objective, start);
                if (result.FunctionInfoAtMinimum.Value < bestValue)
                    (best, bestValue) = (result.MinimizingPoint, result.FunctionInfoAtMinimum.Value);
            }
            catch (Exception ex) when (ex is OptimizationException or ArithmeticException) { }
        }
        return best is null
            ? throw new InvalidOperationException("L-BFGS failed from every start; widen the grid or raise ChinchillaFitOptions.Starts.")
            : (best, bestValue);
    }
}

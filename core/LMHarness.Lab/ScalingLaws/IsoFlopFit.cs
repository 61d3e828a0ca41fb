using LeastSquares = MathNet.Numerics.Fit;

namespace LMHarness.ScalingLaws;

/// <summary>One IsoFLOP profile: the runs at about one compute budget and the parabolas' minima.</summary>
/// <param name="Compute">The profile's compute, the geometric mean of its runs' C.</param>
/// <param name="OptimalParameters">N at the minimum of the parabola L = c₀ + c₁ log N + c₂ (log N)².</param>
/// <param name="OptimalTokens">D at the minimum of the same parabola in log D.</param>
/// <param name="MinimumLoss">The parabola's loss at its minimum in log N.</param>
/// <param name="Runs">The runs of the profile.</param>
public sealed record IsoFlopProfile(double Compute, double OptimalParameters, double OptimalTokens, double MinimumLoss, IReadOnlyList<ScalingRun> Runs);

/// <summary>
/// Chinchilla's approach 2 (Hoffmann et al. 2022, §3.2), the cross-check of approach 3: for each compute budget, runs of
/// several sizes trained to that budget (an IsoFLOP profile); a parabola in log N through the final losses gives the
/// loss-optimal N*(C) (and one in log D gives D*(C)); then log N* = a log C + const and log D* = b log C + const are
/// least-squares lines. Hoffmann et al. found a = 0.49, b = 0.51 this way. Approach 3 implies a = β/(α+β) and
/// b = α/(α+β); the two should agree where the law holds.
/// </summary>
public sealed class IsoFlopFit
{
    /// <summary>The profiles, by increasing compute.</summary>
    public IReadOnlyList<IsoFlopProfile> Profiles { get; }

    /// <summary>a: the slope of log N* against log C.</summary>
    public double ParameterExponent { get; }

    /// <summary>b: the slope of log D* against log C.</summary>
    public double TokenExponent { get; }

    IsoFlopFit(IReadOnlyList<IsoFlopProfile> profiles, double a, double b) =>
        (Profiles, ParameterExponent, TokenExponent) = (profiles, a, b);

    /// <summary>
    /// Groups <paramref name="runs"/> into profiles (runs whose compute is within a factor
    /// 10^<paramref name="log10Tolerance"/> of the previous one, by increasing C), fits each profile's parabolas and the
    /// two lines. Needs at least 2 profiles of at least 3 distinct sizes each, every parabola opening upwards with its
    /// minimum among the profile's runs (the sizes bracket the optimum).
    /// </summary>
    public static IsoFlopFit Fit(IReadOnlyList<ScalingRun> runs, double log10Tolerance = 0.05)
    {
        var groups = new List<List<ScalingRun>>();
        foreach (var run in runs.OrderBy(r => r.Compute))
        {
            if (groups.Count > 0 && Math.Log10(run.Compute / groups[^1][^1].Compute) <= log10Tolerance) groups[^1].Add(run);
            else groups.Add([run]);
        }
        var profiles = groups.Select(Profile).ToList();
        if (profiles.Count < 2) throw new ArgumentException($"an exponent needs at least 2 compute budgets (got {profiles.Count}).", nameof(runs));
        double[] logC = profiles.Select(p => Math.Log(p.Compute)).ToArray();
        double a = LeastSquares.Line(logC, profiles.Select(p => Math.Log(p.OptimalParameters)).ToArray()).B;
        double b = LeastSquares.Line(logC, profiles.Select(p => Math.Log(p.OptimalTokens)).ToArray()).B;
        return new IsoFlopFit(profiles, a, b);
    }

    static IsoFlopProfile Profile(List<ScalingRun> runs)
    {
        double compute = Math.Exp(runs.Average(r => Math.Log(r.Compute)));
        if (runs.Select(r => r.Parameters).Distinct().Count() < 3)
            throw new ArgumentException($"the IsoFLOP profile at C = {compute:G3} has fewer than 3 sizes; a parabola needs 3.");
        double[] loss = runs.Select(r => r.Loss).ToArray();
        var (logN, lossAtN) = Vertex(runs.Select(r => Math.Log(r.Parameters)).ToArray(), loss, compute);
        var (logD, _) = Vertex(runs.Select(r => Math.Log(r.Tokens)).ToArray(), loss, compute);
        return new IsoFlopProfile(compute, Math.Exp(logN), Math.Exp(logD), lossAtN, runs);
    }

    /// <summary>The vertex (x*, L(x*)) of the least-squares parabola through (x, L).</summary>
    static (double X, double Loss) Vertex(double[] x, double[] loss, double compute)
    {
        var c = LeastSquares.Polynomial(x, loss, 2);
        if (!(c[2] > 0))
            throw new ArgumentException($"the IsoFLOP profile at C = {compute:G3} does not curve upwards (c₂ = {c[2]:G3}): its sizes do not bracket the optimum.");
        double xStar = -c[1] / (2 * c[2]);
        if (xStar < x.Min() || xStar > x.Max())
            throw new ArgumentException($"the IsoFLOP profile at C = {compute:G3} has its minimum outside its runs (an extrapolation): its sizes do not bracket the optimum.");
        return (xStar, c[0] + c[1] * xStar + c[2] * xStar * xStar);
    }
}

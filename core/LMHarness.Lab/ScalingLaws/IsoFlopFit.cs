using LeastSquares = MathNet.Numerics.Fit;

namespace LMHarness.ScalingLaws;

/// <summary>One IsoFLOP profile: the runs at about one compute budget and the parabolas' minima.</summary>
/// <param name="Compute">The profile's compute, the geometric mean of its runs' C.</param>
/// <param name="OptimalParameters">N at the minimum of the parabola L = c₀ + c₁ log N + c₂ (log N)².</param>
/// <param name="OptimalTokens">D at the minimum of the same parabola in log D.</param>
/// <param name="MinimumLoss">The parabola's loss at its minimum in log N.</param>
/// <param name="Parabola">(c₀, c₁, c₂) of the parabola in log N (natural log), for drawing it.</param>
/// <param name="Runs">The runs of the profile.</param>
public sealed record IsoFlopProfile(double Compute, double OptimalParameters, double OptimalTokens, double MinimumLoss,
                                    double[] Parabola, IReadOnlyList<ScalingRun> Runs)
{
    /// <summary>The parabola's loss at N parameters.</summary>
    public double LossAt(double parameters) { double x = Math.Log(parameters); return Parabola[0] + Parabola[1] * x + Parabola[2] * x * x; }
}

/// <summary>
/// Chinchilla's approach 2 (Hoffmann et al. 2022, §3.2), the cross-check of approach 3: for each compute budget, runs of
/// several sizes trained to that budget (an IsoFLOP profile); a parabola in log N through the final losses gives the
/// loss-optimal N*(C) (and one in log D gives D*(C)); then log N* = a log C + const and log D* = b log C + const are
/// least-squares lines. Hoffmann et al. found a = 0.49, b = 0.51 this way. Approach 3 implies a = β/(α+β) and
/// b = α/(α+β); the two should agree where the law holds.
/// <para>Intervals: a residual bootstrap over the parabola fits. Each resample adds to every profile's fitted parabola
/// residuals drawn with replacement from all profiles' residuals (pooled, inflated by √(n/(n − 3K)) for the 3K fitted
/// coefficients), refits every vertex and both lines; the percentile interval of the slopes. It carries the noise of
/// the losses into the vertices. A resampled vertex may leave its profile's sizes (it is kept: dropping it would cut
/// the interval's tails); a resample where a parabola no longer opens upwards has no vertex and is dropped and counted.</para>
/// </summary>
public sealed class IsoFlopFit
{
    /// <summary>The profiles fitted, by increasing compute.</summary>
    public IReadOnlyList<IsoFlopProfile> Profiles { get; }

    /// <summary>Why each profile that was not fitted was left out (fewer than 3 sizes, no interior minimum).</summary>
    public IReadOnlyList<string> Skipped { get; }

    /// <summary>a: the slope of log N* against log C, with its bootstrap interval.</summary>
    public Interval ParameterExponent { get; }

    /// <summary>b: the slope of log D* against log C, with its bootstrap interval.</summary>
    public Interval TokenExponent { get; }

    /// <summary>Bootstrap resamples dropped because a parabola opened downwards (no minimum).</summary>
    public int DroppedResamples { get; }

    IsoFlopFit(IReadOnlyList<IsoFlopProfile> profiles, IReadOnlyList<string> skipped, Interval a, Interval b, int dropped) =>
        (Profiles, Skipped, ParameterExponent, TokenExponent, DroppedResamples) = (profiles, skipped, a, b, dropped);

    /// <summary>
    /// Groups <paramref name="runs"/> into profiles (runs whose compute is within a factor
    /// 10^<paramref name="log10Tolerance"/> of the previous one, by increasing C), fits each profile's parabolas and the
    /// two lines. A profile needs at least 3 distinct sizes and a parabola opening upwards with its minimum among its
    /// sizes (the sizes bracket the optimum); the others are <see cref="Skipped"/>. Throws unless 2 profiles remain.
    /// </summary>
    public static IsoFlopFit Fit(IReadOnlyList<ScalingRun> runs, double log10Tolerance = 0.05, int resamples = 1000, double level = 0.95, int seed = 0)
    {
        var groups = new List<List<ScalingRun>>();
        foreach (var run in runs.OrderBy(r => r.Compute))
        {
            if (groups.Count > 0 && Math.Log10(run.Compute / groups[^1][^1].Compute) <= log10Tolerance) groups[^1].Add(run);
            else groups.Add([run]);
        }
        var profiles = new List<IsoFlopProfile>();
        var skipped = new List<string>();
        foreach (var g in groups)
        {
            var (profile, why) = Profile(g, g.Select(r => r.Loss).ToArray());
            if (profile is null) skipped.Add(why!); else profiles.Add(profile);
        }
        if (profiles.Count < 2)
            throw new ArgumentException($"an exponent needs at least 2 IsoFLOP profiles (got {profiles.Count}): {string.Join("; ", skipped)}", nameof(runs));
        var (a, b) = Slopes(profiles);

        // Residual bootstrap over the parabola fits (see the class summary).
        var residuals = profiles.SelectMany(p => p.Runs.Select(r => r.Loss - p.LossAt(r.Parameters))).ToArray();
        int dof = residuals.Length - 3 * profiles.Count;
        double inflate = dof > 0 ? Math.Sqrt((double)residuals.Length / dof) : 0;
        var rng = new Random(seed);
        var aS = new List<double>(); var bS = new List<double>();
        int dropped = 0;
        for (int k = 0; k < resamples && dof > 0; k++)
        {
            var again = new List<IsoFlopProfile>(profiles.Count);
            foreach (var p in profiles)
            {
                var losses = p.Runs.Select(r => p.LossAt(r.Parameters) + inflate * residuals[rng.Next(residuals.Length)]).ToArray();
                if (Profile(p.Runs, losses, bracketed: false).Profile is { } q) again.Add(q); else break;
            }
            if (again.Count < profiles.Count) { dropped++; continue; }
            var (ak, bk) = Slopes(again);
            aS.Add(ak); bS.Add(bk);
        }
        return new IsoFlopFit(profiles, skipped, Interval.Percentile(a, aS, level), Interval.Percentile(b, bS, level), dropped);
    }

    static (double A, double B) Slopes(IReadOnlyList<IsoFlopProfile> profiles)
    {
        double[] logC = profiles.Select(p => Math.Log(p.Compute)).ToArray();
        return (LeastSquares.Line(logC, profiles.Select(p => Math.Log(p.OptimalParameters)).ToArray()).B,
                LeastSquares.Line(logC, profiles.Select(p => Math.Log(p.OptimalTokens)).ToArray()).B);
    }

    /// <summary>The profile of <paramref name="runs"/> with <paramref name="loss"/> as their losses, or why it cannot be fitted.</summary>
    static (IsoFlopProfile? Profile, string? Why) Profile(IReadOnlyList<ScalingRun> runs, double[] loss, bool bracketed = true)
    {
        double compute = Math.Exp(runs.Average(r => Math.Log(r.Compute)));
        if (runs.Select(r => r.Parameters).Distinct().Count() < 3)
            return (null, $"the IsoFLOP profile at C = {compute:G3} has fewer than 3 sizes; a parabola needs 3");
        var n = Vertex(runs.Select(r => Math.Log(r.Parameters)).ToArray(), loss, compute, bracketed);
        var d = Vertex(runs.Select(r => Math.Log(r.Tokens)).ToArray(), loss, compute, bracketed);
        if (n.Why is not null || d.Why is not null) return (null, n.Why ?? d.Why);
        return (new IsoFlopProfile(compute, Math.Exp(n.X), Math.Exp(d.X), n.Loss, n.Coefficients, runs), null);
    }

    /// <summary>The vertex (x*, L(x*)) of the least-squares parabola through (x, L), or why there is none to trust
    /// (none when it opens downwards; with <paramref name="bracketed"/>, none outside the x's either).</summary>
    static (double X, double Loss, double[] Coefficients, string? Why) Vertex(double[] x, double[] loss, double compute, bool bracketed)
    {
        var c = LeastSquares.Polynomial(x, loss, 2);
        if (!(c[2] > 0))
            return (0, 0, c, $"the IsoFLOP profile at C = {compute:G3} does not curve upwards (c₂ = {c[2]:G3}): its sizes do not bracket the optimum");
        double xStar = -c[1] / (2 * c[2]);
        if (bracketed && (xStar < x.Min() || xStar > x.Max()))
            return (0, 0, c, $"the IsoFLOP profile at C = {compute:G3} has its minimum outside its runs (an extrapolation): its sizes do not bracket the optimum");
        return (xStar, c[0] + c[1] * xStar + c[2] * xStar * xStar, c, null);
    }
}

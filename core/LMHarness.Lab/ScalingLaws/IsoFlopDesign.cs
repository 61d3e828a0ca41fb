namespace LMHarness.ScalingLaws;

/// <summary>One planned run of an IsoFLOP design: model <paramref name="Size"/> trained <paramref name="Steps"/> steps to spend budget <paramref name="Level"/>.</summary>
/// <param name="Level">The compute budget C of the profile the run belongs to (FLOPs).</param>
/// <param name="Size">Index of the model in the design's list of FLOPs per token.</param>
/// <param name="Steps">Optimizer steps: C / (FLOPs per token x tokens per step), rounded.</param>
/// <param name="Compute">The run's actual compute, FLOPs per token x Steps x tokens per step (C within rounding).</param>
public readonly record struct IsoFlopRun(double Level, int Size, int Steps, double Compute);

/// <summary>
/// An IsoFLOP design (Hoffmann et al. 2022, §3.2): for each compute budget C, every model of the family is trained for
/// the number of steps that spends C, steps = round(C / (f(N) · tokens per step)) with f the harness's FLOPs per token
/// (6N + 12 L d T), so every profile holds runs of equal compute to within half a step. A model is left out of a
/// profile where its steps would be fewer than a minimum (warm-up and schedule need room) or its tokens would exceed
/// the data (a run must not repeat data). The same runs, read by size, are the N x D grid approach 3 fits.
/// </summary>
public static class IsoFlopDesign
{
    /// <summary>Budgets first, first·ratio, ..., count of them: a geometric ladder of compute.</summary>
    public static double[] Ladder(double first, double ratio, int count) =>
        Enumerable.Range(0, count).Select(k => first * Math.Pow(ratio, k)).ToArray();

    /// <summary>
    /// The runs of every profile: for each budget in <paramref name="levels"/>, each model (FLOPs per token
    /// <paramref name="flopsPerToken"/>[i]) whose steps fall in [<paramref name="minSteps"/>, <paramref name="maxTokens"/>
    /// / <paramref name="tokensPerStep"/>]. Throws when a profile gets fewer than 3 models (no parabola).
    /// </summary>
    public static IReadOnlyList<IsoFlopRun> Plan(IReadOnlyList<double> levels, IReadOnlyList<double> flopsPerToken,
                                                 long tokensPerStep, int minSteps, long maxTokens)
    {
        var runs = new List<IsoFlopRun>();
        foreach (var c in levels)
        {
            var profile = new List<IsoFlopRun>();
            for (int i = 0; i < flopsPerToken.Count; i++)
            {
                int steps = (int)Math.Round(c / (flopsPerToken[i] * tokensPerStep));
                if (steps >= minSteps && (long)steps * tokensPerStep <= maxTokens)
                    profile.Add(new IsoFlopRun(c, i, steps, flopsPerToken[i] * steps * tokensPerStep));
            }
            if (profile.Count < 3)
                throw new ArgumentException($"the IsoFLOP profile at C = {c:G3} fits only {profile.Count} model(s) between {minSteps} steps " +
                                            $"and {maxTokens:N0} tokens; a parabola needs 3: add sizes or move the budget.");
            runs.AddRange(profile);
        }
        return runs;
    }

    /// <summary>
    /// The run at budget <paramref name="level"/> of the family member nearest <paramref name="targetParameters"/> in
    /// log N, among those whose steps fit between <paramref name="minSteps"/> and the data: the run closest to a
    /// fitted N*(C) that the family can train, e.g. to hold out and predict.
    /// </summary>
    public static IsoFlopRun NearestTo(double targetParameters, double level, IReadOnlyList<double> parameters, IReadOnlyList<double> flopsPerToken,
                                       long tokensPerStep, int minSteps, long maxTokens)
    {
        var fits = Enumerable.Range(0, parameters.Count)
            .Select(i => (Size: i, Steps: (int)Math.Round(level / (flopsPerToken[i] * tokensPerStep))))
            .Where(r => r.Steps >= minSteps && (long)r.Steps * tokensPerStep <= maxTokens).ToList();
        if (fits.Count == 0) throw new ArgumentException($"no model of the family fits a run of C = {level:G3} between {minSteps} steps and {maxTokens:N0} tokens.");
        var (size, steps) = fits.MinBy(r => Math.Abs(Math.Log(parameters[r.Size] / targetParameters)));
        return new IsoFlopRun(level, size, steps, flopsPerToken[size] * steps * tokensPerStep);
    }

    /// <summary>
    /// FLOPs per token as a function of N for a family of models, from its members' (N, f) by linear interpolation in
    /// log-log (extrapolated along the end segments): the f the compute-optimal frontier needs between the sizes trained
    /// (<see cref="ChinchillaLaw.ComputeOptimal"/>). For f = 6N + 12 L d T with d ∝ √N it is exact at the members and
    /// within the attention term's curvature between them.
    /// </summary>
    public static Func<double, double> FlopsPerTokenCurve(IEnumerable<(double Parameters, double FlopsPerToken)> family)
    {
        var pts = family.DistinctBy(p => p.Parameters).OrderBy(p => p.Parameters).Select(p => (X: Math.Log(p.Parameters), Y: Math.Log(p.FlopsPerToken))).ToArray();
        if (pts.Length < 2) throw new ArgumentException("a FLOPs-per-token curve needs at least 2 model sizes.", nameof(family));
        return n =>
        {
            double x = Math.Log(n);
            int i = 1;
            while (i < pts.Length - 1 && x > pts[i].X) i++;
            var (p, q) = (pts[i - 1], pts[i]);
            return Math.Exp(p.Y + (q.Y - p.Y) * (x - p.X) / (q.X - p.X));
        };
    }
}

using LMHarness.Summary;

namespace LMHarness.ScalingLaws;

/// <summary>
/// One training run as a point of a scaling law: N parameters trained on D tokens reached loss L, at compute C FLOPs.
/// </summary>
/// <param name="Parameters">N: the parameters that enter a matmul (<see cref="ModelSummary.FlopsPerToken(int)"/> counts the same ones).</param>
/// <param name="Tokens">D: training tokens seen.</param>
/// <param name="Loss">L: the final validation loss (nats per token).</param>
/// <param name="Compute">C: training FLOPs, FLOPs per token x D; 6 N D when built without a model summary.</param>
public readonly record struct ScalingRun(double Parameters, double Tokens, double Loss, double Compute)
{
    /// <summary>A run of the model <paramref name="summary"/> describes: N and C from the harness's own FLOPs-per-token formula.</summary>
    public static ScalingRun Of(ModelSummary summary, double tokens, double loss) =>
        new(summary.TotalParameters - summary.LookupParameters, tokens, loss, summary.FlopsPerToken() * tokens);

    /// <summary>A run whose compute is Kaplan's and Chinchilla's approximation C = 6 N D.</summary>
    public static ScalingRun SixND(double parameters, double tokens, double loss) =>
        new(parameters, tokens, loss, 6 * parameters * tokens);
}

/// <summary>
/// Chinchilla's parametric loss (Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models", eq. 2):
/// <code>
///   L(N, D) = E + A / N^α + B / D^β
/// </code>
/// E is the irreducible loss of the data, A / N^α what a finite model adds, B / D^β what finite data adds.
/// Under the constraint C = 6 N D, minimising L gives (their eq. 4, appendix D.2)
/// <code>
///   N*(C) = G (C/6)^a,  D*(C) = G⁻¹ (C/6)^b,  G = (α A / (β B))^(1/(α+β)),  a = β/(α+β),  b = α/(α+β).
/// </code>
/// Published fits: Hoffmann et al. E = 1.69, A = 406.4, B = 410.7, α = 0.34, β = 0.28; Besiroglu et al. 2024
/// ("Chinchilla Scaling: A replication attempt", their refit of the same data) E = 1.82, A = 482.01, B = 2085.43,
/// α = 0.3478, β = 0.3658.
/// </summary>
public sealed record ChinchillaLaw(double E, double A, double B, double Alpha, double Beta)
{
    /// <summary>Besiroglu et al. 2024's refit of Chinchilla's approach 3 (their table 1).</summary>
    public static ChinchillaLaw Besiroglu2024 { get; } = new(1.8172, 482.01, 2085.43, 0.3478, 0.3658);

    /// <summary>The fit Hoffmann et al. 2022 published (approach 3).</summary>
    public static ChinchillaLaw Hoffmann2022 { get; } = new(1.69, 406.4, 410.7, 0.34, 0.28);

    /// <summary>L(N, D).</summary>
    public double Loss(double parameters, double tokens) =>
        E + A / Math.Pow(parameters, Alpha) + B / Math.Pow(tokens, Beta);

    /// <summary>a = β/(α+β): N*(C) ∝ C^a.</summary>
    public double ParameterExponent => Beta / (Alpha + Beta);

    /// <summary>b = α/(α+β): D*(C) ∝ C^b.</summary>
    public double TokenExponent => Alpha / (Alpha + Beta);

    /// <summary>G = (α A / (β B))^(1/(α+β)), the prefactor of N*(C) = G (C/6)^a.</summary>
    public double G => Math.Pow(Alpha * A / (Beta * B), 1 / (Alpha + Beta));

    /// <summary>The closed-form compute-optimal split under C = 6 N D: (N*, D*).</summary>
    public (double Parameters, double Tokens) ComputeOptimalSixND(double compute) =>
        (G * Math.Pow(compute / 6, ParameterExponent), Math.Pow(compute / 6, TokenExponent) / G);

    /// <summary>
    /// The compute-optimal split when compute is C = f(N) D for the FLOPs-per-token function f (e.g. the harness's
    /// 6 N + 12 L d T, interpolated over a family of models): N* minimises L(N, C / f(N)), found by golden-section
    /// search on log N within [<paramref name="minParameters"/>, <paramref name="maxParameters"/>].
    /// With f(N) = 6 N it agrees with <see cref="ComputeOptimalSixND"/>.
    /// </summary>
    public (double Parameters, double Tokens) ComputeOptimal(double compute, Func<double, double> flopsPerToken,
                                                             double minParameters = 1e3, double maxParameters = 1e13)
    {
        double LossAt(double logN) { double n = Math.Exp(logN); return Loss(n, compute / flopsPerToken(n)); }
        double lo = Math.Log(minParameters), hi = Math.Log(maxParameters), r = (Math.Sqrt(5) - 1) / 2;
        double x1 = hi - r * (hi - lo), x2 = lo + r * (hi - lo), f1 = LossAt(x1), f2 = LossAt(x2);
        while (hi - lo > 1e-10)
        {
            if (f1 < f2) { hi = x2; x2 = x1; f2 = f1; x1 = hi - r * (hi - lo); f1 = LossAt(x1); }
            else { lo = x1; x1 = x2; f1 = f2; x2 = lo + r * (hi - lo); f2 = LossAt(x2); }
        }
        double n = Math.Exp(0.5 * (lo + hi));
        return (n, compute / flopsPerToken(n));
    }
}

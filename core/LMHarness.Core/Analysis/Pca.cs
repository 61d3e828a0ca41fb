using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Analysis;

/// <summary>
/// Principal component analysis through the singular value decomposition (Pearson 1901; Hotelling 1933):
/// centre X (N, D) by its column mean mu, factor X - mu = U S V^T, take the first k rows of V^T as components,
/// explained variance S_i^2 / (N - 1), and project x -> (x - mu) V_k. Each component's sign is fixed so its
/// largest-magnitude loading is positive, making plots deterministic. Uses <c>torch.linalg.svd</c> because
/// TorchSharp's <c>pca_lowrank</c> is not implemented. Computed in float64 on the CPU.
/// </summary>
public sealed class Pca : IDisposable
{
    /// <summary>Column mean of the fitted data (D).</summary>
    public Tensor Mean { get; }
    /// <summary>Principal axes as rows (k, D), orthonormal, in decreasing order of variance.</summary>
    public Tensor Components { get; }
    /// <summary>Variance of the data along each component (k): S_i^2 / (N - 1).</summary>
    public double[] ExplainedVariance { get; }
    /// <summary>Share of the total variance along each component (k).</summary>
    public double[] ExplainedVarianceRatio { get; }

    Pca(Tensor mean, Tensor components, double[] variance, double[] ratio)
    {
        Mean = mean; Components = components; ExplainedVariance = variance; ExplainedVarianceRatio = ratio;
    }

    /// <summary>Fits <paramref name="components"/> principal components to the rows of <paramref name="x"/> (N, D).</summary>
    public static Pca Fit(Tensor x, int components)
    {
        if (x.dim() != 2) throw new ArgumentException($"PCA needs a 2-D matrix (N samples, D features); got shape [{string.Join(", ", x.shape)}]");
        long n = x.shape[0], d = x.shape[1];
        if (n < 2) throw new ArgumentException($"PCA needs at least 2 samples to measure variance; got {n}");
        if (components < 1 || components > Math.Min(n, d))
            throw new ArgumentException($"components must be in [1, min(N, D) = {Math.Min(n, d)}]; got {components}");
        using var scope = torch.NewDisposeScope();
        var xd = x.detach().to(ScalarType.Float64, torch.CPU);
        var mean = xd.mean([0]);
        var centred = xd - mean;
        var (_, s, vh) = torch.linalg.svd(centred, fullMatrices: false);
        var comps = vh[..components];
        // Deterministic signs: the largest |loading| of each axis is positive.
        var pivot = comps.abs().argmax(1, keepdim: true);
        var signs = comps.gather(1, pivot).sign();
        comps = comps * torch.where(signs == 0, torch.ones_like(signs), signs);
        var variance = (s * s / (n - 1)).data<double>().ToArray();
        double total = variance.Sum();
        var kept = variance.Take(components).ToArray();
        var ratio = kept.Select(v => total > 0 ? v / total : 0).ToArray();
        return new Pca(mean.MoveToOuterDisposeScope(), comps.contiguous().MoveToOuterDisposeScope(), kept, ratio);
    }

    /// <summary>Coordinates of the rows of <paramref name="x"/> (N, D) on the components: (x - mean) V_k, shape (N, k), float64.</summary>
    public Tensor Transform(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var xd = x.detach().to(ScalarType.Float64, torch.CPU);
        return (xd - Mean).matmul(Components.t()).MoveToOuterDisposeScope();
    }

    public void Dispose() { Mean.Dispose(); Components.Dispose(); }
}

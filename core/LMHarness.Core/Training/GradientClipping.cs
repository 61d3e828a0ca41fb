using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LMHarness.Training;

/// <summary>
/// Global-norm gradient clipping (Pascanu et al. 2013, "On the difficulty of training recurrent neural networks"):
/// with n = sqrt(sum over all gradients of ||g||^2), every gradient is scaled by max_norm / (n + 1e-6) when n
/// exceeds max_norm, so the update keeps its direction but not an exploding size.
/// </summary>
public static class GradientClipping
{
    /// <summary>Clips in place when <paramref name="maxNorm"/> &gt; 0 and returns the norm before clipping (NaN/Inf pass through).</summary>
    public static double ClipByGlobalNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        using var scope = torch.NewDisposeScope();
        var grads = parameters.Select(p => p.grad).Where(g => g is not null).Select(g => g!).ToList();
        if (grads.Count == 0) return 0;
        var norms = torch.stack(grads.Select(g => g.to(ScalarType.Float32).norm()).ToArray());
        var total = norms.norm().item<float>();
        if (maxNorm > 0 && double.IsFinite(total) && total > maxNorm)
        {
            var coef = maxNorm / (total + 1e-6);
            using var _ = torch.no_grad();
            foreach (var g in grads) g.mul_(coef);
        }
        return total;
    }
}

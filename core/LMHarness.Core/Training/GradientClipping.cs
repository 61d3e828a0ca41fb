using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LMHarness.Training;

/// <summary>
/// Global-norm gradient clipping (Pascanu et al. 2013, "On the difficulty of training recurrent neural networks"):
/// with n = sqrt(sum over all gradients of ||g||^2), every gradient is scaled by min(1, max_norm / (n + 1e-6)), so the
/// update keeps its direction but not an exploding size. Computed as torch.nn.utils.clip_grad_norm_ does, entirely on
/// the gradients' device: nothing is read back to the host, so a GPU step does not wait for it.
/// </summary>
public static class GradientClipping
{
    /// <summary>Clips in place when <paramref name="maxNorm"/> &gt; 0; returns the norm before clipping as a 0-d fp32
    /// tensor on the gradients' device (NaN/Inf pass through and poison the gradients, which the trainer detects).</summary>
    public static Tensor ClipByGlobalNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        using var scope = torch.NewDisposeScope();
        var grads = parameters.Select(p => p.grad).Where(g => g is not null).Select(g => g!).ToList();
        if (grads.Count == 0) return torch.zeros([], ScalarType.Float32, device: parameters.First().device).MoveToOuterDisposeScope();
        var total = torch.stack(grads.Select(g => g.to(ScalarType.Float32).norm()).ToArray()).norm();
        if (maxNorm > 0)
        {
            using Scalar max = maxNorm, eps = 1e-6, one = 1;
            var coefficient = total.add(eps, one).reciprocal().mul(max).clamp_max(one); // min(1, max_norm / (n + 1e-6))
            using var _ = torch.no_grad();
            foreach (var g in grads) g.mul_(coefficient.to(g.dtype));
        }
        return total.MoveToOuterDisposeScope();
    }
}

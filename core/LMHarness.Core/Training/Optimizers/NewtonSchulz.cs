using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Training.Optimizers;

/// <summary>
/// Approximate orthogonalisation of a matrix G = U S V^T to U V^T by a quintic Newton-Schulz iteration
/// (Jordan et al. 2024, "Muon: An optimizer for hidden layers in neural networks"): X = G / ||G||_F, then
/// 5 times X = a X + (b A + c A^2) X with A = X X^T and (a, b, c) = (3.4445, -4.7750, 2.0315). The coefficients
/// are tuned to push every singular value into roughly [0.7, 1.2] fast rather than to converge exactly.
/// Runs in fp32 here (the reference uses bf16 on GPU; on CPU fp32 is as fast and more accurate).
/// </summary>
public static class NewtonSchulz
{
    public const double A = 3.4445, B = -4.7750, C = 2.0315;

    public static Tensor Orthogonalize(Tensor g, int steps = 5)
    {
        using var scope = torch.NewDisposeScope();
        var x = g.to(ScalarType.Float32);
        // Iterate on the wide orientation so X X^T is the smaller Gram matrix.
        var tall = g.shape[0] > g.shape[1];
        if (tall) x = x.t();
        x = x / (x.norm() + 1e-7);
        for (var i = 0; i < steps; i++)
        {
            var a = x.matmul(x.t());
            var b = B * a + C * a.matmul(a);
            x = A * x + b.matmul(x);
        }
        if (tall) x = x.t();
        return x.contiguous().MoveToOuterDisposeScope();
    }
}

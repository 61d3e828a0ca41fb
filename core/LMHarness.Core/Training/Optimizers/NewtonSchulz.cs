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
        // The coefficients as Scalars of our own, disposed here: `B * a` would make a native Scalar per use that only
        // the finalizer frees (~25 per matrix per step).
        using Scalar a = A, b = B, c = C, one = 1, eps = 1e-7;
        x = x / x.norm().add(eps, one);
        for (var i = 0; i < steps; i++)
        {
            var gram = x.matmul(x.t());
            var poly = gram.mul(b).add(gram.matmul(gram).mul(c), one); // B A + C A^2
            x = x.mul(a).add(poly.matmul(x), one);                      // A X + (B A + C A^2) X
        }
        if (tall) x = x.t();
        return x.contiguous().MoveToOuterDisposeScope();
    }
}

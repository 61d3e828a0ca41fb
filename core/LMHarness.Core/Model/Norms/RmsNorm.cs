using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LMHarness.Model.Norms;

/// <summary>
/// Root-mean-square layer normalisation (Zhang and Sennrich 2019, "Root Mean Square Layer Normalization"):
/// y = x / sqrt(mean(x^2) + eps) * weight. No mean subtraction and no bias: cheaper than LayerNorm and what
/// Llama uses. Written by hand because TorchSharp 0.107 has no RMSNorm module. Statistics are taken in float32
/// (as HF <c>LlamaRMSNorm</c> does) so half-precision inputs do not lose the small squares.
/// </summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly double eps;

    public RmsNorm(long dim, double eps) : base(nameof(RmsNorm))
    {
        weight = nn.Parameter(ones(dim));
        this.eps = eps;
        RegisterComponents();
    }

    public Parameter Weight => weight;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var xf = x.dtype == ScalarType.Float32 ? x : x.to(ScalarType.Float32);
        using Scalar epsilon = eps;
        var normed = xf * rsqrt(xf.pow(Scalars.Two).mean([-1], keepdim: true).add(epsilon, Scalars.One));
        if (x.dtype != ScalarType.Float32) normed = normed.to(x.dtype);
        return (normed * weight).MoveToOuterDisposeScope();
    }
}

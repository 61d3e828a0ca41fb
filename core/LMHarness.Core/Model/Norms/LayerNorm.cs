using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LMHarness.Model.Norms;

/// <summary>
/// Layer normalisation (Ba et al. 2016, "Layer Normalization"): y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias,
/// statistics over the last dimension. The bias is optional (nanoGPT's <c>LayerNorm(bias=False)</c>), because a
/// bias-free model should be bias-free everywhere. Uses the fused <c>layer_norm</c> kernel; the module exists so the
/// parameters carry HF names (<c>weight</c>, <c>bias</c>) and the bias can be absent.
/// </summary>
public sealed class LayerNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter? bias;
    private readonly long dim;
    private readonly double eps;

    public LayerNorm(long dim, double eps, bool bias) : base(nameof(LayerNorm))
    {
        weight = nn.Parameter(ones(dim));
        this.bias = bias ? nn.Parameter(zeros(dim)) : null;
        this.dim = dim;
        this.eps = eps;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => nn.functional.layer_norm(x, [dim], weight, bias, eps);
}

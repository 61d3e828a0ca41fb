using LMHarness.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Model.Norms;

/// <summary>Builds the normalisation a config asks for (<see cref="RmsNorm"/> or <see cref="LayerNorm"/>).</summary>
public static class Norm
{
    public static nn.Module<Tensor, Tensor> Create(ModelConfig config, long dim) => config.Norm switch
    {
        NormKind.RmsNorm => new RmsNorm(dim, config.NormEps),
        NormKind.LayerNorm => new LayerNorm(dim, config.NormEps, config.Bias),
        _ => throw new ArgumentOutOfRangeException(nameof(config), config.Norm, "unknown norm kind"),
    };
}

using LMHarness.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LMHarness.Model.FeedForward;

/// <summary>
/// GPT-2 feed-forward (Radford et al. 2019): down_proj(GELU(up_proj x)). HF GPT-2 calls these <c>c_fc</c> and
/// <c>c_proj</c>; the Llama names are used so every block has the same keys. Exact (erf) GELU, as nanoGPT.
/// </summary>
public sealed class Mlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear up_proj;
    private readonly Linear down_proj;

    public Mlp(ModelConfig config) : base(nameof(Mlp))
    {
        up_proj = nn.Linear(config.DModel, config.FfnHidden, hasBias: config.Bias);
        down_proj = nn.Linear(config.FfnHidden, config.DModel, hasBias: config.Bias);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return down_proj.forward(nn.functional.gelu(up_proj.forward(x))).MoveToOuterDisposeScope();
    }
}

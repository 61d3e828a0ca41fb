using LMHarness.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LMHarness.Model.FeedForward;

/// <summary>
/// Gated feed-forward with SiLU (Shazeer 2020, "GLU Variants Improve Transformer"; Llama):
/// down_proj(SiLU(gate_proj x) * up_proj x). Three matrices instead of two, so a width of about 8/3 d_model
/// costs what a 4 d_model GELU MLP does.
/// </summary>
public sealed class SwiGlu : nn.Module<Tensor, Tensor>
{
    private readonly Linear gate_proj;
    private readonly Linear up_proj;
    private readonly Linear down_proj;

    public SwiGlu(ModelConfig config) : base(nameof(SwiGlu))
    {
        gate_proj = nn.Linear(config.DModel, config.FfnHidden, hasBias: config.Bias);
        up_proj = nn.Linear(config.DModel, config.FfnHidden, hasBias: config.Bias);
        down_proj = nn.Linear(config.FfnHidden, config.DModel, hasBias: config.Bias);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var hidden = nn.functional.silu(gate_proj.forward(x)) * up_proj.forward(x);
        return down_proj.forward(hidden).MoveToOuterDisposeScope();
    }
}

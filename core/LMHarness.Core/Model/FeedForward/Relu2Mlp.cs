using LMHarness.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LMHarness.Model.FeedForward;

/// <summary>
/// Squared-ReLU feed-forward (So et al. 2021, "Primer: Searching for Efficient Transformers for Language Modeling"):
/// down_proj(relu(up_proj x)^2). Two matrices like the GELU MLP, but the activation is cheaper and, in the Primer
/// search and in modded-nanogpt's GPT-2 speedrun (Keller Jordan et al. 2024), trains to a lower loss. HF names
/// <c>up_proj</c>/<c>down_proj</c>, as <see cref="Mlp"/>.
/// </summary>
public sealed class Relu2Mlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear up_proj;
    private readonly Linear down_proj;

    public Relu2Mlp(ModelConfig config) : base(nameof(Relu2Mlp))
    {
        up_proj = nn.Linear(config.DModel, config.FfnHidden, hasBias: config.Bias);
        down_proj = nn.Linear(config.FfnHidden, config.DModel, hasBias: config.Bias);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return down_proj.forward(nn.functional.relu(up_proj.forward(x)).square()).MoveToOuterDisposeScope();
    }
}

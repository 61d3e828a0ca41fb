using LMHarness.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Model.FeedForward;

/// <summary>
/// Squared-ReLU feed-forward (So et al. 2021, "Primer: Searching for Efficient Transformers for Language Modeling"):
/// down_proj(relu(up_proj x)^2). Two matrices like the GELU MLP, but the activation is cheaper and, in the Primer
/// search and in modded-nanogpt's GPT-2 speedrun (Keller Jordan et al. 2024), trains to a lower loss. Same names
/// as <see cref="Mlp"/>; HF GPT-2 runs it with <c>activation_function</c> "relu2".
/// </summary>
public sealed class Relu2Mlp(ModelConfig config) : TwoMatrixMlp(nameof(Relu2Mlp), config)
{
    protected override Tensor Activate(Tensor hidden) => nn.functional.relu(hidden).pow(Scalars.Two); // relu(h)^2
}

using LMHarness.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Model.FeedForward;

/// <summary>
/// GPT-2 feed-forward (Radford et al. 2019): down_proj(GELU(up_proj x)). HF GPT-2 calls these <c>c_fc</c> and
/// <c>c_proj</c>; the Llama names are used so every block has the same keys. Exact (erf) GELU, as nanoGPT.
/// </summary>
public sealed class Mlp(ModelConfig config) : TwoMatrixMlp(nameof(Mlp), config)
{
    protected override Tensor Activate(Tensor hidden) => nn.functional.gelu(hidden);
}

using LMHarness.Config;
using LMHarness.Model;
using TorchSharp;

namespace LMHarness.Tests.Generation;

/// <summary>Tiny byte-vocab models with spread-out random weights, so greedy choices are not near-ties.</summary>
internal static class TinyModels
{
    public static ModelConfig Llama => new()
    {
        VocabSize = 256, ContextLength = 64, NLayer = 2, DModel = 32, NHead = 4, NKvHead = 2, FfnHidden = 48,
        AttentionKinds = [AttentionKind.Gqa], FeedForwardKinds = [FeedForwardKind.SwiGlu], Position = PositionKind.Rope,
        Norm = NormKind.RmsNorm, Bias = false, TieEmbeddings = true, InitStd = 0.3,
    };

    public static ModelConfig Gpt2 => new()
    {
        VocabSize = 256, ContextLength = 64, NLayer = 2, DModel = 32, NHead = 4, NKvHead = 4, FfnHidden = 64,
        AttentionKinds = [AttentionKind.Mha], FeedForwardKinds = [FeedForwardKind.Mlp], Position = PositionKind.Learned,
        Norm = NormKind.LayerNorm, Bias = true, TieEmbeddings = true, InitStd = 0.3,
    };

    public static CausalLM Build(ModelConfig config, long seed)
    {
        torch.manual_seed(seed);
        var m = new CausalLM(config);
        m.eval();
        return m;
    }
}

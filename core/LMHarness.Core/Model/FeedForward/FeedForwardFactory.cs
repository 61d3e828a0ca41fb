using LMHarness.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Model.FeedForward;

/// <summary>Builds the feed-forward network of one layer from <see cref="ModelConfig.FeedForwardFor"/>.</summary>
public static class FeedForwardFactory
{
    public static nn.Module<Tensor, Tensor> Create(ModelConfig config, int layer) => config.FeedForwardFor(layer) switch
    {
        FeedForwardKind.Mlp => new Mlp(config),
        FeedForwardKind.SwiGlu => new SwiGlu(config),
        FeedForwardKind.Relu2 => new Relu2Mlp(config),
        var kind => throw new ArgumentOutOfRangeException(nameof(layer), kind, "unknown feed-forward kind"),
    };
}

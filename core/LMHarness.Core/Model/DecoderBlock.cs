using LMHarness.Config;
using LMHarness.Model.Attention;
using LMHarness.Model.FeedForward;
using LMHarness.Model.Norms;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LMHarness.Model;

/// <summary>
/// Pre-norm transformer block (Xiong et al. 2020; GPT-2, Llama):
/// h = x + Dropout(Attention(Norm1(x))); out = h + Dropout(FFN(Norm2(h))).
/// Normalising the branch inputs, not the residual stream, keeps an identity path from output to input, which is
/// what lets deep stacks train without warm-up tricks. Layer i takes attention kind i and feed-forward kind i from
/// the config's lists (modulo their lengths).
/// </summary>
public sealed class DecoderBlock : nn.Module<Tensor, AttentionInput, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> input_layernorm;
    private readonly CausalSelfAttention self_attn;
    private readonly nn.Module<Tensor, Tensor> post_attention_layernorm;
    private readonly nn.Module<Tensor, Tensor> mlp;
    private readonly Dropout resid_dropout;

    public DecoderBlock(ModelConfig config, int layer) : base(nameof(DecoderBlock))
    {
        input_layernorm = Norm.Create(config, config.DModel);
        self_attn = AttentionFactory.Create(config, layer);
        post_attention_layernorm = Norm.Create(config, config.DModel);
        mlp = FeedForwardFactory.Create(config, layer);
        resid_dropout = nn.Dropout(config.Dropout);
        RegisterComponents();
    }

    public CausalSelfAttention SelfAttention => self_attn;
    /// <summary>The feed-forward branch (MLP, SwiGLU, ReLU²).</summary>
    public nn.Module<Tensor, Tensor> Mlp => mlp;

    public override Tensor forward(Tensor x, AttentionInput input)
    {
        using var scope = NewDisposeScope();
        // x + f(x), written add(.., One) so no Scalar 1 is left to the finalizer (Scalars). The branches are invoked
        // with call, not forward, so forward hooks on them fire (the coordinate check reads their outputs that way).
        var h = x.add(resid_dropout.forward(self_attn.call(input_layernorm.forward(x), input)), Scalars.One);
        var output = h.add(resid_dropout.forward(mlp.call(post_attention_layernorm.forward(h))), Scalars.One);
        return output.MoveToOuterDisposeScope();
    }
}

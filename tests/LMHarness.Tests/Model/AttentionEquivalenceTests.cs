using LMHarness.Config;
using LMHarness.Model;
using static TorchSharp.torch;

namespace LMHarness.Tests.Model;

public class AttentionEquivalenceTests
{
    private static double Diff(ModelConfig a, ModelConfig b)
    {
        using var scope = NewDisposeScope();
        using var first = Tiny.Build(a, seed: 7);
        using var second = Tiny.Build(b, seed: 8);
        second.load_state_dict(first.state_dict()); // same parameter names: the weights are now identical
        var idx = Tiny.Tokens(a, 2, 20);
        return Tiny.MaxAbsDiff(first.forward(idx), second.forward(idx));
    }

    [Theory]
    [InlineData(PositionKind.Learned)]
    [InlineData(PositionKind.Rope)]
    [InlineData(PositionKind.None)]
    public void Raw_attention_equals_fused_SDPA_on_the_same_weights(PositionKind p) =>
        Diff(Tiny.Config(AttentionKind.Raw, p), Tiny.Config(AttentionKind.Mha, p)).Should().BeLessThan(1e-5);

    [Theory]
    [InlineData(PositionKind.Learned)]
    [InlineData(PositionKind.Rope)]
    public void GQA_with_as_many_kv_heads_as_heads_equals_MHA(PositionKind p) =>
        Diff(Tiny.Config(AttentionKind.Gqa, p, nKvHead: 4), Tiny.Config(AttentionKind.Mha, p)).Should().BeLessThan(1e-6);

    [Fact]
    public void GQA_equals_MHA_with_each_kv_head_repeated()
    {
        // GQA (2 kv heads) against MHA whose K/V rows are the GQA rows duplicated per group: the definition of repeat_kv.
        using var scope = NewDisposeScope();
        var gqaConfig = Tiny.Config(AttentionKind.Gqa, PositionKind.Rope, nKvHead: 2);
        var mhaConfig = Tiny.Config(AttentionKind.Mha, PositionKind.Rope);
        using var gqa = Tiny.Build(gqaConfig);
        using var mha = Tiny.Build(mhaConfig);
        var state = gqa.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (var key in state.Keys.Where(k => k.EndsWith("k_proj.weight") || k.EndsWith("v_proj.weight")).ToList())
        {
            var w = state[key].view(2, 8, 32); // (kv heads, head_dim, d)
            state[key] = w.unsqueeze(1).expand(2, 2, 8, 32).reshape(32, 32);
        }
        mha.load_state_dict(state);
        var idx = Tiny.Tokens(gqaConfig, 2, 12);
        Tiny.MaxAbsDiff(gqa.forward(idx), mha.forward(idx)).Should().BeLessThan(1e-5);
    }

    [Fact]
    public void Differential_attention_lambda_init_follows_the_paper()
    {
        DifferentialAttentionLambda(0).Should().BeApproximately(0.2, 1e-12);
        DifferentialAttentionLambda(1).Should().BeApproximately(0.8 - 0.6 * Math.Exp(-0.3), 1e-12);
        DifferentialAttentionLambda(11).Should().BeApproximately(0.8 - 0.6 * Math.Exp(-3.3), 1e-12);

        var config = Tiny.Config(AttentionKind.Differential, PositionKind.Rope) with { NLayer = 3 };
        using var model = Tiny.Build(config);
        var attn = (LMHarness.Model.Attention.DifferentialAttention)model.Body.Layers[2].SelfAttention;
        attn.LambdaInit.Should().BeApproximately(0.8 - 0.6 * Math.Exp(-0.6), 1e-12);
        var p = model.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        string pre = "model.layers.2.self_attn.";
        double expected = Math.Exp((p[pre + "lambda_q1"] * p[pre + "lambda_k1"]).sum().item<float>())
                          - Math.Exp((p[pre + "lambda_q2"] * p[pre + "lambda_k2"]).sum().item<float>()) + attn.LambdaInit;
        using var lambda = attn.Lambda();
        lambda.item<float>().Should().BeApproximately((float)expected, 1e-5f);
    }

    private static double DifferentialAttentionLambda(int layer) => LMHarness.Model.Attention.DifferentialAttention.LambdaInitFor(layer);
}

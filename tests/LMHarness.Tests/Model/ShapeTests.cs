using LMHarness.Config;
using LMHarness.Model;
using static TorchSharp.torch;

namespace LMHarness.Tests.Model;

public class ShapeTests
{
    public static IEnumerable<object[]> EveryCombination() =>
        from a in Tiny.AttentionKinds
        from p in Tiny.PositionKinds
        from f in Enum.GetValues<FeedForwardKind>()
        from n in Enum.GetValues<NormKind>()
        select new object[] { a, p, f, n };

    [Theory]
    [MemberData(nameof(EveryCombination))]
    public void Forward_loss_and_last_position_have_the_right_shapes(AttentionKind a, PositionKind p, FeedForwardKind f, NormKind n)
    {
        using var scope = NewDisposeScope();
        var config = Tiny.Config(a, p, f, n, bias: n == NormKind.LayerNorm);
        using var model = Tiny.Build(config);
        var idx = Tiny.Tokens(config, 3, 11);

        var logits = model.forward(idx);
        logits.shape.Should().Equal(3, 11, config.VocabSize);
        logits.dtype.Should().Be(ScalarType.Float32);

        var (logits2, loss) = model.ForwardWithLoss(idx, idx);
        loss.shape.Should().BeEmpty();
        double l = loss.item<float>();
        // Near-uniform at init: within 1 nat of ln V.
        l.Should().BeInRange(Math.Log(config.VocabSize) - 1, Math.Log(config.VocabSize) + 1);
        Tiny.MaxAbsDiff(logits2, logits).Should().Be(0);
        model.Loss(idx, idx).item<float>().Should().Be((float)l);

        var last = model.ForwardLast(idx);
        last.shape.Should().Equal(3, config.VocabSize);
        Tiny.MaxAbsDiff(last, logits.select(1, -1)).Should().BeLessThan(1e-5);

        var grads = model.parameters().ToList();
        loss.backward();
        grads.Where(g => g.grad is null).Should().BeEmpty("every parameter takes part in the loss");
    }

    public static IEnumerable<object[]> Options() =>
        from o in Tiny.Options
        from a in Tiny.AttentionKinds
        from p in Tiny.PositionKinds
        select new object[] { o, a, p };

    [Theory]
    [MemberData(nameof(Options))]
    public void Every_speedrun_option_gives_the_right_shapes_and_trains_every_parameter(string option, AttentionKind a, PositionKind p)
    {
        using var scope = NewDisposeScope();
        var config = Tiny.With(Tiny.Config(a, p) with { TieEmbeddings = false }, option);
        using var model = Tiny.Build(config);
        var idx = Tiny.Tokens(config, 3, 11);
        var logits = model.forward(idx);
        logits.shape.Should().Equal(3, 11, config.VocabSize);
        Tiny.MaxAbsDiff(model.ForwardLast(idx), logits.select(1, -1)).Should().BeLessThan(1e-5);
        var loss = model.Loss(idx, idx);
        loss.item<float>().Should().BeInRange((float)Math.Log(config.VocabSize) - 1, (float)Math.Log(config.VocabSize) + 1);
        loss.backward();
        model.parameters().Where(x => x.grad is null).Should().BeEmpty("every parameter takes part in the loss");
    }

    [Fact]
    public void Alternating_layers_take_kind_i_modulo_the_list()
    {
        var config = Tiny.Config(AttentionKind.Gqa, PositionKind.Rope) with
        {
            NLayer = 3,
            AttentionKinds = [AttentionKind.Gqa, AttentionKind.Differential],
            FeedForwardKinds = [FeedForwardKind.Mlp, FeedForwardKind.SwiGlu],
        };
        using var model = Tiny.Build(config);
        var keys = model.state_dict().Keys.ToHashSet();
        keys.Should().Contain("model.layers.1.self_attn.lambda_q1").And.Contain("model.layers.1.self_attn.subln.weight");
        keys.Should().NotContain("model.layers.0.self_attn.lambda_q1").And.NotContain("model.layers.2.self_attn.lambda_q1");
        keys.Should().Contain("model.layers.1.mlp.gate_proj.weight").And.NotContain("model.layers.0.mlp.gate_proj.weight")
            .And.NotContain("model.layers.2.mlp.gate_proj.weight");
        model.Body.Layers[0].SelfAttention.NKvHead.Should().Be(2);
        model.Body.Layers[1].SelfAttention.NKvHead.Should().Be(4);
        using var idx = Tiny.Tokens(config, 2, 9);
        using var logits = model.forward(idx);
        logits.shape.Should().Equal(2, 9, config.VocabSize);
    }

    [Fact]
    public void State_dict_keys_follow_HF_llama_and_gpt2_naming()
    {
        using var llama = Tiny.Build(Tiny.Config(AttentionKind.Gqa, PositionKind.Rope));
        llama.state_dict().Keys.Should().BeEquivalentTo(
            "model.embed_tokens.weight", "model.norm.weight",
            "model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight",
            "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
            "model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.o_proj.weight",
            "model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight",
            "model.layers.1.input_layernorm.weight", "model.layers.1.post_attention_layernorm.weight",
            "model.layers.1.self_attn.q_proj.weight", "model.layers.1.self_attn.k_proj.weight",
            "model.layers.1.self_attn.v_proj.weight", "model.layers.1.self_attn.o_proj.weight",
            "model.layers.1.mlp.gate_proj.weight", "model.layers.1.mlp.up_proj.weight", "model.layers.1.mlp.down_proj.weight");

        var gpt2Config = Tiny.Config(AttentionKind.Mha, PositionKind.Learned, FeedForwardKind.Mlp, NormKind.LayerNorm, bias: true) with
        {
            NLayer = 1,
            TieEmbeddings = false,
        };
        using var gpt2 = Tiny.Build(gpt2Config);
        gpt2.state_dict().Keys.Should().BeEquivalentTo(
            "model.embed_tokens.weight", "model.embed_positions.weight", "model.norm.weight", "model.norm.bias", "lm_head.weight",
            "model.layers.0.input_layernorm.weight", "model.layers.0.input_layernorm.bias",
            "model.layers.0.post_attention_layernorm.weight", "model.layers.0.post_attention_layernorm.bias",
            "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.q_proj.bias",
            "model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.k_proj.bias",
            "model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.v_proj.bias",
            "model.layers.0.self_attn.o_proj.weight", "model.layers.0.self_attn.o_proj.bias",
            "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.up_proj.bias",
            "model.layers.0.mlp.down_proj.weight", "model.layers.0.mlp.down_proj.bias");
    }

    [Fact]
    public void Bad_inputs_get_one_clear_error()
    {
        var config = Tiny.Config(AttentionKind.Mha, PositionKind.Learned);
        using var model = Tiny.Build(config);
        using var tooLong = Tiny.Tokens(config, 1, config.ContextLength + 1);
        model.Invoking(m => m.forward(tooLong)).Should().Throw<ArgumentException>().WithMessage("*context_length*");
        using var floats = zeros(1, 4);
        model.Invoking(m => m.forward(floats)).Should().Throw<ArgumentException>().WithMessage("*int64*");
        using var flat = zeros(4, dtype: ScalarType.Int64);
        model.Invoking(m => m.forward(flat)).Should().Throw<ArgumentException>().WithMessage("*(batch, time)*");
    }
}

using LMHarness.Analysis;
using LMHarness.Config;
using LMHarness.Model;
using LMHarness.Model.Attention;
using LMHarness.Model.FeedForward;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LMHarness.Tests.Model;

/// <summary>What each speedrun block (issue 14) computes, checked against the formula written out.</summary>
public class SpeedrunBlockTests
{
    static Dictionary<string, Parameter> Params(CausalLM m) => m.named_parameters().ToDictionary(x => x.name, x => x.parameter);

    /// <summary>A model of <paramref name="config"/> holding <paramref name="from"/>'s weights (its extra tensors keep their init).</summary>
    static CausalLM Copy(CausalLM from, ModelConfig config)
    {
        var to = Tiny.Build(config);
        to.load_state_dict(from.state_dict(), strict: false);
        return to;
    }

    static void Scale(Parameter p, double factor)
    {
        using var _ = no_grad();
        p.mul_(factor);
    }

    [Theory]
    [InlineData(AttentionKind.Mha)]
    [InlineData(AttentionKind.Gqa)]
    [InlineData(AttentionKind.Differential)]
    public void QK_norm_makes_the_logits_independent_of_the_scale_of_q_and_k(AttentionKind kind)
    {
        using var scope = NewDisposeScope();
        // A negligible eps, so RMS(c q) = c RMS(q) holds to float precision even for differential attention's 4-wide half-heads.
        var config = Tiny.Config(kind, PositionKind.Rope) with { QkNorm = true, InitStd = 0.3, NormEps = 1e-12 };
        using var model = Tiny.Build(config);
        var idx = Tiny.Tokens(config, 2, 9);
        var before = model.forward(idx);
        foreach (var (name, p) in model.named_parameters().Where(x => x.name.EndsWith("q_proj.weight") || x.name.EndsWith("k_proj.weight")))
            Scale(p, 7.0);
        // q and k are RMS-normalised per head before they meet, so scaling their projections changes nothing.
        Tiny.MaxAbsDiff(model.forward(idx), before).Should().BeLessThan(1e-4);

        using var plain = Copy(model, config with { QkNorm = false });
        using var plainScaled = Copy(model, config with { QkNorm = false });
        foreach (var (name, p) in plainScaled.named_parameters().Where(x => x.name.EndsWith("q_proj.weight")))
            Scale(p, 7.0);
        Tiny.MaxAbsDiff(plainScaled.forward(idx), plain.forward(idx)).Should().BeGreaterThan(1e-2, "without QK-norm the scale matters");
    }

    [Fact]
    public void QK_norm_gains_carry_Qwen3_names_and_cached_keys_have_unit_rms_per_head()
    {
        using var scope = NewDisposeScope();
        var config = Tiny.Config(AttentionKind.Gqa, PositionKind.Rope) with { QkNorm = true, InitStd = 0.3 };
        using var model = Tiny.Build(config);
        var p = Params(model);
        p["model.layers.0.self_attn.q_norm.weight"].shape.Should().Equal(config.HeadDim);
        p["model.layers.1.self_attn.k_norm.weight"].shape.Should().Equal(config.HeadDim);
        using var cache = model.NewCache(1);
        model.ForwardCached(Tiny.Tokens(config, 1, 6), cache);
        // RoPE turns channel pairs, which keeps each head's RMS: the cached K is normalised (gain 1 at init).
        var rms = cache.Layer(0).K!.square().mean([-1]).sqrt();
        Tiny.MaxAbsDiff(rms, ones_like(rms)).Should().BeLessThan(1e-3);
        // The gain scales each channel: doubling k_norm's gain doubles the cached K.
        Scale(p["model.layers.0.self_attn.k_norm.weight"], 2.0);
        using var cache2 = model.NewCache(1);
        model.ForwardCached(Tiny.Tokens(config, 1, 6), cache2);
        Tiny.MaxAbsDiff(cache2.Layer(0).K!, 2 * cache.Layer(0).K!).Should().BeLessThan(1e-5);
    }

    [Fact]
    public void Relu2_feed_forward_is_down_of_relu_up_squared()
    {
        using var scope = NewDisposeScope();
        var config = Tiny.Config(AttentionKind.Mha, PositionKind.Rope, FeedForwardKind.Relu2, bias: true);
        manual_seed(3);
        using var mlp = new Relu2Mlp(config);
        var p = mlp.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        p.Keys.Should().BeEquivalentTo("up_proj.weight", "up_proj.bias", "down_proj.weight", "down_proj.bias");
        var x = randn(2, 5, config.DModel);
        var h = x.matmul(p["up_proj.weight"].t()) + p["up_proj.bias"];
        var expected = (h.clamp_min(0) * h.clamp_min(0)).matmul(p["down_proj.weight"].t()) + p["down_proj.bias"];
        Tiny.MaxAbsDiff(mlp.forward(x), expected).Should().BeLessThan(1e-5);
    }

    [Fact]
    public void Soft_cap_bounds_the_logits_at_c_tanh_of_the_uncapped_ones_in_forward_loss_and_cache()
    {
        using var scope = NewDisposeScope();
        var config = Tiny.Config(AttentionKind.Gqa, PositionKind.Rope) with { LogitSoftcap = 1.5, InitStd = 0.5, TieEmbeddings = false };
        using var model = Tiny.Build(config);
        using var raw = Copy(model, config with { LogitSoftcap = 0 });
        var idx = Tiny.Tokens(config, 2, 9);
        var uncapped = raw.forward(idx);
        uncapped.abs().max().item<float>().Should().BeGreaterThan(3f, "the test needs logits the cap bends");
        var capped = model.forward(idx);
        Tiny.MaxAbsDiff(capped, 1.5 * (uncapped / 1.5).tanh()).Should().BeLessThan(1e-5);
        capped.abs().max().item<float>().Should().BeLessThan(1.5f);
        // The loss the trainer and evaluation use is the cross entropy of the capped logits.
        var expected = nn.functional.cross_entropy(capped.view(-1, config.VocabSize), idx.reshape(-1));
        model.Loss(idx, idx).item<float>().Should().BeApproximately(expected.item<float>(), 1e-6f);
        using var cache = model.NewCache(2);
        Tiny.MaxAbsDiff(model.ForwardCached(idx, cache), capped).Should().BeLessThan(1e-5);
    }

    [Theory]
    [InlineData(AttentionKind.Gqa)]
    [InlineData(AttentionKind.Differential)]
    public void Value_embedding_row_of_each_token_is_added_to_V_before_it_is_cached(AttentionKind kind)
    {
        using var scope = NewDisposeScope();
        var config = Tiny.Config(kind, PositionKind.Rope) with { ValueEmbeddings = true, InitStd = 0.3 };
        using var model = Tiny.Build(config);
        var p = Params(model);
        var table = p["model.layers.0.self_attn.value_embed.weight"];
        long kv = model.Body.Layers[0].SelfAttention.NKvHead;
        table.shape.Should().Equal(config.VocabSize, kv * config.HeadDim);
        var idx = Tiny.Tokens(config, 2, 7);
        var rows = table.detach().clone();

        using var withTable = model.NewCache(2);
        model.ForwardCached(idx, withTable);
        var logitsWith = model.forward(idx);
        foreach (var (name, t) in p.Where(x => x.Key.EndsWith("value_embed.weight"))) Scale(t, 0.0);
        using var zeroTable = model.NewCache(2);
        model.ForwardCached(idx, zeroTable);
        // Layer 0's input does not depend on value embeddings, so its cached V differs by exactly E[idx], per head.
        var expected = rows.index_select(0, idx.reshape(-1)).view(2, 7, kv, config.HeadDim).transpose(1, 2);
        Tiny.MaxAbsDiff(withTable.Layer(0).V! - zeroTable.Layer(0).V!, expected).Should().BeLessThan(1e-6);

        // All tables at zero is the model without value embeddings.
        using var without = Copy(model, config with { ValueEmbeddings = false });
        Tiny.MaxAbsDiff(without.forward(idx), model.forward(idx)).Should().BeLessThan(1e-6);
        Tiny.MaxAbsDiff(logitsWith, model.forward(idx)).Should().BeGreaterThan(1e-3, "the tables change the logits");
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public void Skip_connections_add_early_outputs_to_late_inputs_last_in_first_out(int layers)
    {
        using var scope = NewDisposeScope();
        var config = Tiny.Config(AttentionKind.Gqa, PositionKind.Rope) with { SkipConnections = true, NLayer = layers, InitStd = 0.3, TieEmbeddings = false };
        using var model = Tiny.Build(config);
        var w = Params(model)["model.skip_weights.weight"];
        w.shape.Should().Equal(layers / 2);
        w.eq(1).all().item<bool>().Should().BeTrue("the weights start at 1");
        using (no_grad()) w.copy_(tensor(Enumerable.Range(0, layers / 2).Select(j => 0.5f + j).ToArray()));
        var idx = Tiny.Tokens(config, 2, 9);

        // Written out: with E = L / 2, receiving block L - E + j adds w[j] times the output of block E - 1 - j,
        // so the last block takes block 0's output (and with L = 5 the middle block takes none).
        using var _ = no_grad();
        var body = model.Body;
        var x = body.EmbedTokens.forward(idx);
        var outputs = new List<Tensor>();
        for (int i = 0; i < layers; i++)
        {
            int j = i - (layers - layers / 2);          // index among the receiving blocks
            if (j >= 0) x = x + w[j] * outputs[layers / 2 - 1 - j];
            x = body.Layers[i].forward(x, new AttentionInput(0, null, null, null, idx));
            outputs.Add(x);
        }
        var logits = model.forward(idx);
        var head = Params(model)["lm_head.weight"];
        var byHand = nn.functional.linear(body.FinalNorm.forward(x), head);
        Tiny.MaxAbsDiff(logits, byHand).Should().BeLessThan(1e-5);
        HiddenStates.Compute(model, idx).Zip(outputs.Prepend(body.EmbedTokens.forward(idx)))
            .Should().OnlyContain(pair => Tiny.MaxAbsDiff(pair.First, pair.Second) < 1e-5, "hidden states are the block outputs");

        // Zero weights is the plain chain.
        w.zero_();
        using var chain = Copy(model, config with { SkipConnections = false });
        Tiny.MaxAbsDiff(chain.forward(idx), model.forward(idx)).Should().BeLessThan(1e-6);
    }

    [Fact]
    public void Zero_init_outputs_start_every_block_as_the_identity_and_the_untied_head_uniform()
    {
        var config = Tiny.Config(AttentionKind.Gqa, PositionKind.Rope) with { ZeroInitOutputs = true, TieEmbeddings = false };
        using var model = Tiny.Build(config);
        var zeroed = model.named_parameters().Where(x => x.name.EndsWith("o_proj.weight") || x.name.EndsWith("down_proj.weight") || x.name == "lm_head.weight").ToList();
        zeroed.Should().HaveCount(2 * config.NLayer + 1);
        zeroed.Should().OnlyContain(x => x.parameter.abs().max().item<float>() == 0f);
        model.TokenEmbedding.abs().max().item<float>().Should().BeGreaterThan(0f);
        using var idx = Tiny.Tokens(config, 2, 9);
        using var loss = model.Loss(idx, idx);
        loss.item<float>().Should().BeApproximately((float)Math.Log(config.VocabSize), 1e-5f, "all-zero logits are the uniform distribution");
        // At the start only the head has a gradient (the stream's gradient comes through the zero head); once the head
        // has moved, the zero projections get gradients too, so training moves them.
        loss.backward();
        var head = zeroed.Single(x => x.name == "lm_head.weight").parameter;
        head.grad!.abs().max().item<float>().Should().BeGreaterThan(0f);
        zeroed.Where(x => x.name != "lm_head.weight").Should().OnlyContain(x => x.parameter.grad!.abs().max().item<float>() == 0f);
        using (no_grad()) head.add_(head.grad!, alpha: -1.0);
        model.zero_grad();
        using (var again = model.Loss(idx, idx)) again.backward();
        zeroed.Should().OnlyContain(x => x.parameter.grad!.abs().max().item<float>() > 0f);

        using var hidden = HiddenStates.Compute(model, idx).Last();
        Tiny.MaxAbsDiff(hidden, model.Body.EmbedTokens.forward(idx)).Should().Be(0, "every block adds zero");

        var tied = Tiny.Build(config with { TieEmbeddings = true });
        tied.TokenEmbedding.abs().max().item<float>().Should().BeGreaterThan(0f, "a tied head is the embedding, which is not zeroed");
    }
}

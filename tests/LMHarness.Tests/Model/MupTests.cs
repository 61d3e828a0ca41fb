using LMHarness.Config;
using LMHarness.Model;
using LMHarness.Summary;
using LMHarness.Training.Optimizers;
using static TorchSharp.torch;

namespace LMHarness.Tests.Model;

/// <summary>μP (Tensor Programs V, Yang et al. 2022; <see cref="MupScaling"/>): equal to SP at the base width, and away from
/// it the init, learning-rate, readout and attention factors each do what the rule says.</summary>
[Collection(nameof(GlobalTorchState))]
public class MupTests
{
    static ModelConfig Sp(int width, bool tied = true, AttentionKind attention = AttentionKind.Mha) =>
        Tiny.Config(attention, PositionKind.Rope) with { DModel = width, FfnHidden = width * 3 / 2, TieEmbeddings = tied, Bias = true };

    static ModelConfig Mup(int width, int baseWidth, bool tied = true, AttentionKind attention = AttentionKind.Mha) =>
        Sp(width, tied, attention) with { Parametrization = Parametrization.Mup, MupBaseWidth = baseWidth };

    static Tensor LogitsAfterOneStep(CausalLM model, OptimizerKind optimizer, Tensor idx)
    {
        model.train();
        using var opt = OptimizerFactory.Create(model, new TrainingConfig { Optimizer = optimizer, LearningRate = 1e-2, WeightDecay = 0.1 });
        opt.ZeroGrad();
        using (var loss = model.Loss(idx, idx.roll(-1, 1))) loss.backward();
        opt.Step(1.0);
        model.eval();
        using var _ = no_grad();
        return model.forward(idx);
    }

    [Theory]
    [InlineData(OptimizerKind.AdamW, true, AttentionKind.Mha)]
    [InlineData(OptimizerKind.AdamW, false, AttentionKind.Raw)]
    [InlineData(OptimizerKind.AdEMAMix, true, AttentionKind.Differential)]
    public void Mup_at_the_base_width_equals_SP_at_init_and_after_one_step(OptimizerKind optimizer, bool tied, AttentionKind attention)
    {
        using var sp = Tiny.Build(Sp(32, tied, attention));
        using var mup = Tiny.Build(Mup(32, 32, tied, attention));
        using var scope = NewDisposeScope();
        var idx = Tiny.Tokens(sp.Config, 2, 12);
        using (no_grad()) mup.forward(idx).Equals(sp.forward(idx)).Should().BeTrue("at the base width μP's init is SP's, bit for bit");
        var spAfter = LogitsAfterOneStep(sp, optimizer, idx);
        var mupAfter = LogitsAfterOneStep(mup, optimizer, idx);
        Tiny.MaxAbsDiff(mupAfter, spAfter).Should().Be(0, "the same learning rates and multipliers of exactly 1 give the same step");
        // Negative control: the same seed at twice the base's d_model under μP is not SP's model of that width.
        using var spWide = Tiny.Build(Sp(64, tied, attention));
        using var mupWide = Tiny.Build(Mup(64, 32, tied, attention));
        using (no_grad()) Tiny.MaxAbsDiff(mupWide.forward(idx), spWide.forward(idx)).Should().BeGreaterThan(1e-3);
    }

    [Fact]
    public void Hidden_init_std_shrinks_as_one_over_sqrt_width_while_embeddings_keep_theirs()
    {
        using var model = Tiny.Build(Mup(512, 32) with { VocabSize = 2000 });   // m = 16
        var p = model.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        p["model.layers.0.self_attn.q_proj.weight"].std().item<float>().Should().BeApproximately(0.02f / 4, 0.0005f);
        p["model.layers.0.mlp.up_proj.weight"].std().item<float>().Should().BeApproximately(0.02f / 4, 0.0005f);
        p["model.layers.0.self_attn.o_proj.weight"].std().item<float>().Should().BeApproximately((float)(0.02 / Math.Sqrt(4) / 4), 0.0003f);
        p["model.embed_tokens.weight"].std().item<float>().Should().BeApproximately(0.02f, 0.001f);
    }

    [Theory]
    [InlineData(OptimizerKind.AdamW)]
    [InlineData(OptimizerKind.AdEMAMix)]
    public void Hidden_matrices_take_a_base_over_width_learning_rate_and_the_rest_the_full_one(OptimizerKind optimizer)
    {
        using var model = Tiny.Build(Mup(128, 32, tied: false));   // m = 4
        var groups = ParameterGroups.Split(model);
        groups.MultiplierOf("model.layers.0.self_attn.q_proj.weight").Should().Be(0.25);
        groups.MultiplierOf("model.embed_tokens.weight").Should().Be(1);
        groups.MultiplierOf("lm_head.weight").Should().Be(1);
        groups.MultiplierOf("model.layers.0.self_attn.q_proj.bias").Should().Be(1);

        // Adam's first step moves every entry with a gradient by ~lr (m_hat / sqrt(v_hat) = sign g), so the largest move
        // of each tensor is its learning rate.
        var p = model.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        string[] names = ["model.layers.0.self_attn.q_proj.weight", "model.layers.1.mlp.down_proj.weight", "model.embed_tokens.weight", "lm_head.weight", "model.layers.0.self_attn.q_proj.bias"];
        var before = names.ToDictionary(n => n, n => p[n].detach().clone());
        model.train();
        using var opt = OptimizerFactory.Create(model, new TrainingConfig { Optimizer = optimizer, LearningRate = 1e-2, WeightDecay = 0 });
        using var idx = Tiny.Tokens(model.Config, 2, 12);
        using (var loss = model.Loss(idx, idx.roll(-1, 1))) loss.backward();
        opt.Step(1.0);
        double Moved(string n) => (p[n].detach() - before[n]).abs().max().item<float>();
        var full = Moved("model.embed_tokens.weight");
        full.Should().BeGreaterThan(1e-3);
        Moved("lm_head.weight").Should().BeApproximately(full, full * 0.02);
        Moved("model.layers.0.self_attn.q_proj.bias").Should().BeApproximately(full, full * 0.02);
        Moved("model.layers.0.self_attn.q_proj.weight").Should().BeApproximately(full / 4, full * 0.01);
        Moved("model.layers.1.mlp.down_proj.weight").Should().BeApproximately(full / 4, full * 0.01);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Readout_and_attention_multipliers_are_SP_with_the_logits_and_q_scaled(bool tied)
    {
        // μP at width 64 over base 32 with base head dim 8 (head dim 16): logits x 1/2 and q x sqrt(8/16).
        var config = Mup(64, 32, tied) with { MupBaseHeadDim = 8 };
        using var mup = Tiny.Build(config);
        using var sp = Tiny.Build(Sp(64, tied));
        using (no_grad())
        {
            foreach (var (name, value) in mup.state_dict())
                sp.state_dict()[name].copy_(name.Contains("q_proj") ? value * Math.Sqrt(0.5) : value);
        }
        using var scope = NewDisposeScope();
        var idx = Tiny.Tokens(config, 2, 12);
        using var _ = no_grad();
        var expected = sp.forward(idx) * 0.5;
        Tiny.MaxAbsDiff(mup.forward(idx), expected).Should().BeLessThan(1e-5);
        Tiny.MaxAbsDiff(mup.forward(idx), sp.forward(idx)).Should().BeGreaterThan(1e-2);
        // The fused loss sees the same multiplied logits.
        var targets = idx.roll(-1, 1);
        var fused = mup.FusedLoss(idx, targets, nn.Reduction.Mean).item<float>();
        fused.Should().BeApproximately(mup.Loss(idx, targets).item<float>(), 1e-4f);
    }

    [Fact]
    public void The_output_multiplier_scales_the_logits_at_any_width_and_is_unwritten_at_its_default()
    {
        // α = 3 at the base width: logits 3x SP's (same weights: the init does not depend on α); at 2x the base, 3/2 x.
        using var sp = Tiny.Build(Sp(32));
        using var mup = Tiny.Build(Mup(32, 32) with { MupOutputMultiplier = 3 });
        using var scope = NewDisposeScope();
        var idx = Tiny.Tokens(sp.Config, 2, 12);
        using (no_grad()) Tiny.MaxAbsDiff(mup.forward(idx), sp.forward(idx) * 3).Should().BeLessThan(1e-5);
        MupScaling.ReadoutMultiplier(Mup(64, 32) with { MupOutputMultiplier = 3 }).Should().Be(1.5);
        MupScaling.ReadoutMultiplier(Mup(64, 32)).Should().Be(0.5, "0, the default, means 1");
        Mup(32, 32).ToJson().Should().NotContain("mup_output_multiplier", "configs and run identities from before the knob are unchanged");
        (Mup(32, 32) with { MupOutputMultiplier = 3 }).ToJson().Should().Contain("\"mup_output_multiplier\": 3");
        FluentActions.Invoking(() => (Sp(32) with { MupOutputMultiplier = 2 }).Validated()).Should().Throw<ArgumentException>().WithMessage("*mup_output_multiplier apply to parametrization mup only*");
        FluentActions.Invoking(() => (Mup(32, 32) with { MupOutputMultiplier = -1 }).Validated()).Should().Throw<ArgumentException>().WithMessage("*mup_output_multiplier must be a finite number >= 0*");
    }

    [Fact]
    public void Muon_refuses_a_mup_model_and_says_why()
    {
        using var model = Tiny.Build(Mup(64, 32));
        var act = () => OptimizerFactory.Create(model, new TrainingConfig { Optimizer = OptimizerKind.Muon });
        act.Should().Throw<NotSupportedException>().WithMessage("*already*scaled per shape*");
        using var sp = Tiny.Build(Sp(64));
        using var muon = OptimizerFactory.Create(sp, new TrainingConfig { Optimizer = OptimizerKind.Muon });
    }

    [Fact]
    public void The_scales_table_lists_the_std_each_weight_was_drawn_with_and_the_optimizer_s_multiplier()
    {
        using var model = Tiny.Build(Mup(512, 128, tied: false) with { VocabSize = 2000 });   // m = 4
        var table = new ParameterScales(model);
        var groups = ParameterGroups.Split(model);
        var p = model.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        foreach (var row in table.Rows)
        {
            row.LearningRateMultiplier.Should().Be(groups.MultiplierOf(row.Name), row.Name);
            if (row.InitStd is double std && std > 0)
                p[row.Name].std().item<float>().Should().BeApproximately((float)std, (float)std * 0.05f, row.Name);
        }
        table.Rows.Single(r => r.Name == "model.layers.0.self_attn.k_proj.weight").InitStd.Should().BeApproximately(0.01, 1e-12);
        table.Rows.Single(r => r.Name == "model.layers.0.self_attn.k_proj.bias").InitStd.Should().Be(0);
        table.Rows.Single(r => r.Name == "model.norm.weight").InitStd.Should().BeNull();
        table.ToTable().Should().Contain("logits x 0.25");
    }

    [Theory]
    [InlineData(AttentionKind.Gqa)]
    [InlineData(AttentionKind.Differential)]
    public void Decoding_with_the_cache_gives_the_full_forward_s_logits_away_from_the_base(AttentionKind attention)
    {
        // The q factor is applied before K/V are cached and only to q, so cached decoding must match the full forward.
        using var model = Tiny.Build(Mup(64, 32, attention: attention) with { MupBaseHeadDim = 8 });
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var idx = Tiny.Tokens(model.Config, 2, 10);
        var full = model.forward(idx);
        using var cache = model.NewCache(2);
        var prompt = model.ForwardCached(idx.narrow(1, 0, 6), cache);
        var steps = Enumerable.Range(6, 4).Select(t => model.ForwardCached(idx.narrow(1, t, 1), cache)).ToList();
        var cached = cat([prompt, .. steps], 1);
        Tiny.MaxAbsDiff(cached, full).Should().BeLessThan(1e-5);
    }
}

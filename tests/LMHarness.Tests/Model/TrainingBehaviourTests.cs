using LMHarness.Config;
using LMHarness.Model;
using static TorchSharp.torch;

namespace LMHarness.Tests.Model;

public class TrainingBehaviourTests
{
    private static List<float> Train(ModelConfig config, int steps, double lr, long seed, Tensor idx, Tensor targets)
    {
        using var model = Tiny.Build(config, seed);
        model.train();
        using var opt = optim.AdamW(model.parameters(), lr, weight_decay: 0.0);
        var losses = new List<float>();
        for (int i = 0; i < steps; i++)
        {
            using var scope = NewDisposeScope();
            opt.zero_grad();
            var loss = model.Loss(idx, targets);
            loss.backward();
            opt.step();
            losses.Add(loss.item<float>());
        }
        return losses;
    }

    [Theory]
    [InlineData(AttentionKind.Mha, PositionKind.Learned, FeedForwardKind.Mlp, NormKind.LayerNorm)]
    [InlineData(AttentionKind.Gqa, PositionKind.Rope, FeedForwardKind.SwiGlu, NormKind.RmsNorm)]
    [InlineData(AttentionKind.Differential, PositionKind.Rope, FeedForwardKind.SwiGlu, NormKind.RmsNorm)]
    public void A_tiny_model_overfits_one_batch(AttentionKind a, PositionKind p, FeedForwardKind f, NormKind n)
    {
        var config = Tiny.Config(a, p, f, n);
        using var idx = Tiny.Tokens(config, 4, 16, seed: 3);
        using var targets = Tiny.Tokens(config, 4, 16, seed: 4); // random targets: only memorisation gets them
        var losses = Train(config, 60, 1e-2, 11, idx, targets);
        losses[0].Should().BeGreaterThan(3f);
        losses[^1].Should().BeLessThan(0.05f);
    }

    [Fact]
    public void Same_seed_gives_the_same_losses_and_another_seed_does_not()
    {
        var config = Tiny.Config(AttentionKind.Gqa, PositionKind.Rope) with { Dropout = 0.1 };
        using var idx = Tiny.Tokens(config, 2, 12);
        manual_seed(5);
        var a = Train(config, 5, 1e-3, 21, idx, idx);
        var b = Train(config, 5, 1e-3, 21, idx, idx);
        var c = Train(config, 5, 1e-3, 22, idx, idx);
        a.Should().Equal(b);
        a.Should().NotEqual(c);
    }

    [Theory]
    [InlineData(AttentionKind.Gqa, 0.0)]
    [InlineData(AttentionKind.Differential, 0.0)]
    [InlineData(AttentionKind.Raw, 0.2)] // dropout: recomputation must replay the same masks
    public void Checkpointed_backward_gives_the_plain_gradients(AttentionKind a, double dropout)
    {
        var plainConfig = Tiny.Config(a, PositionKind.Rope) with { NLayer = 3, Dropout = dropout };
        var ckptConfig = plainConfig with { RecomputeActivations = true };
        using var plain = Tiny.Build(plainConfig, seed: 3);
        using var ckpt = Tiny.Build(ckptConfig, seed: 4);
        ckpt.load_state_dict(plain.state_dict());
        plain.train();
        ckpt.train();
        using var idx = Tiny.Tokens(plainConfig, 2, 10);

        manual_seed(77);
        using (var loss = plain.Loss(idx, idx)) loss.backward();
        manual_seed(77);
        float ckptLoss;
        using (var loss = ckpt.Loss(idx, idx)) { ckptLoss = loss.item<float>(); loss.backward(); }

        var plainGrads = plain.named_parameters().ToDictionary(x => x.name, x => x.parameter.grad!);
        foreach (var (name, p) in ckpt.named_parameters())
        {
            p.grad.Should().NotBeNull(name);
            Tiny.MaxAbsDiff(p.grad!, plainGrads[name]).Should().BeLessThan(1e-6, name);
        }
        plainGrads.Values.Sum(g => g.abs().sum().item<float>()).Should().BeGreaterThan(0);
    }
}

using LMHarness.Config;
using LMHarness.Model;
using static TorchSharp.torch;

namespace LMHarness.Tests.Model;

public class TiedEmbeddingTests
{
    [Fact]
    public void Tied_head_is_the_embedding_and_registered_once()
    {
        using var model = Tiny.Build(Tiny.Config(AttentionKind.Mha, PositionKind.Rope));
        var ps = model.parameters().ToList();
        ps.Count(p => p.shape.SequenceEqual(new long[] { 37, 32 })).Should().Be(1);
        ps.Select(p => p.Handle).Distinct().Count().Should().Be(ps.Count);
        model.state_dict().Keys.Should().NotContain("lm_head.weight");

        using var scope = NewDisposeScope();
        var idx = Tiny.Tokens(model.Config, 1, 5);
        var logits = model.forward(idx);
        // logits = norm(h) E^T: ForwardLast's logits lie in the row space of E, check via least squares residual ~ 0.
        var e = model.TokenEmbedding.detach();
        var last = model.ForwardLast(idx);
        var coef = linalg.lstsq(e, last.T).Solution;
        Tiny.MaxAbsDiff(e.matmul(coef), last.T).Should().BeLessThan(1e-4);
        Tiny.MaxAbsDiff(logits.select(1, -1), last).Should().BeLessThan(1e-5);
    }

    [Fact]
    public void Tied_weight_moves_exactly_once_per_AdamW_step()
    {
        using var model = Tiny.Build(Tiny.Config(AttentionKind.Gqa, PositionKind.Rope));
        model.train();
        const double lr = 1e-2, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1;
        using var opt = optim.AdamW(model.parameters(), lr, b1, b2, eps, wd);
        using var idx = Tiny.Tokens(model.Config, 2, 8);
        var e = model.TokenEmbedding;
        using var before = e.detach().clone();
        opt.zero_grad();
        using (var loss = model.Loss(idx, idx)) loss.backward();
        using var g = e.grad!.clone();
        g.abs().sum().item<float>().Should().BeGreaterThan(0);
        opt.step();

        // One AdamW step (Loshchilov and Hutter 2019), bias-corrected at t = 1:
        // p <- p (1 - lr wd) - lr m_hat / (sqrt(v_hat) + eps), m_hat = g, v_hat = g^2.
        using var m = g * (1 - b1) / (1 - b1);
        using var v = g * g * (1 - b2) / (1 - b2);
        using var expected = before * (1 - lr * wd) - lr * m / (v.sqrt() + eps);
        Tiny.MaxAbsDiff(e.detach(), expected).Should().BeLessThan(1e-6);
        // Two updates would move it about twice as far: make sure the test can tell the difference.
        using var twice = expected * (1 - lr * wd) - lr * m / (v.sqrt() + eps);
        Tiny.MaxAbsDiff(twice, expected).Should().BeGreaterThan(1e-3);
    }

    [Fact]
    public void Untied_head_is_a_separate_parameter()
    {
        using var model = Tiny.Build(Tiny.Config(AttentionKind.Mha, PositionKind.Rope) with { TieEmbeddings = false });
        model.state_dict().Keys.Should().Contain("lm_head.weight");
        model.parameters().Count(p => p.shape.SequenceEqual(new long[] { 37, 32 })).Should().Be(2);
    }
}

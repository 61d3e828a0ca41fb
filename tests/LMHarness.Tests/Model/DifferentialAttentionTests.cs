using LMHarness.Config;
using LMHarness.Model.Attention;
using static TorchSharp.torch;

namespace LMHarness.Tests.Model;

public class DifferentialAttentionTests
{
    [Fact]
    public void Matches_the_papers_formula_written_out_from_the_weights()
    {
        using var scope = NewDisposeScope();
        var config = Tiny.Config(AttentionKind.Differential, PositionKind.None) with { NLayer = 2 };
        using var model = Tiny.Build(config);
        var attn = (DifferentialAttention)model.Body.Layers[1].SelfAttention;
        var w = model.named_parameters().Where(p => p.name.StartsWith("model.layers.1.self_attn."))
            .ToDictionary(p => p.name["model.layers.1.self_attn.".Length..], p => p.parameter.detach());
        long b = 2, t = 6, h = config.NHead, d = config.HeadDim;
        var x = randn([b, t, config.DModel], generator: new Generator(3));

        // Ye et al. 2024, eq. 1-3 with the reference code's layout: 2h half-width Q/K heads, h full-width V heads.
        var q = x.matmul(w["q_proj.weight"].T).view(b, t, 2 * h, d / 2).transpose(1, 2);
        var k = x.matmul(w["k_proj.weight"].T).view(b, t, 2 * h, d / 2).transpose(1, 2);
        var v = x.matmul(w["v_proj.weight"].T).view(b, t, h, d).transpose(1, 2);
        var s = q.matmul(k.transpose(-1, -2)) / Math.Sqrt(d / 2.0);
        s = s.masked_fill(ones(t, t, dtype: ScalarType.Bool).triu(1), double.NegativeInfinity);
        var a = s.softmax(-1).view(b, h, 2, t, t);
        double lambdaInit = 0.8 - 0.6 * Math.Exp(-0.3 * 1);
        var lambda = (w["lambda_q1"] * w["lambda_k1"]).sum().exp() - (w["lambda_q2"] * w["lambda_k2"]).sum().exp() + lambdaInit;
        var o = (a.select(2, 0) - lambda * a.select(2, 1)).matmul(v);
        o = o / (o.square().mean([-1], keepdim: true) + config.NormEps).sqrt() * w["subln.weight"] * (1 - lambdaInit);
        var expected = o.transpose(1, 2).reshape(b, t, h * d).matmul(w["o_proj.weight"].T);

        var actual = attn.forward(x, AttentionInput.Training);
        Tiny.MaxAbsDiff(actual, expected).Should().BeLessThan(1e-5);
    }
}

using LMHarness.Config;
using LMHarness.Model;

namespace LMHarness.Tests.Model;

/// <summary>
/// <see cref="ParameterShapes"/> lists exactly the state dict <see cref="CausalLM"/> builds: the same names, in the same
/// order, with the same shapes, for every block kind and option; its closed-form count equals the built model's. The
/// loaders trust it to refuse a config before building, so a tensor it forgot would refuse every real checkpoint, and a
/// shape it got wrong would let a mismatched config through to the allocation.
/// </summary>
public class ParameterShapeTests
{
    public static IEnumerable<object[]> EveryBlock() =>
        (from a in Tiny.AttentionKinds
         from p in Tiny.PositionKinds
         from f in Enum.GetValues<FeedForwardKind>()
         from n in Enum.GetValues<NormKind>()
         from bias in new[] { false, true }
         select new object[] { Tiny.NoOption, a, p, f, n, bias, true })
        .Concat(from o in Tiny.Options
                from a in Tiny.AttentionKinds
                from tied in new[] { false, true }
                select new object[] { o, a, PositionKind.Rope, FeedForwardKind.SwiGlu, NormKind.RmsNorm, false, tied });

    [Theory]
    [MemberData(nameof(EveryBlock))]
    public void The_listing_is_the_built_state_dict(string option, AttentionKind a, PositionKind p, FeedForwardKind f, NormKind n, bool bias, bool tied)
    {
        var config = Tiny.Config(a, p, f, n, bias: bias) with { TieEmbeddings = tied };
        if (option != Tiny.NoOption) config = Tiny.With(config, option);
        SameAsBuilt(config);
    }

    [Fact]
    public void Mixed_layer_kinds_are_listed_layer_by_layer_and_counted_over_their_period()
    {
        // Period lcm(2, 3) = 6 over 7 layers: the count must weigh the first layer of the period twice.
        SameAsBuilt(Tiny.Config(AttentionKind.Gqa, PositionKind.Rope) with
        {
            NLayer = 7, AttentionKinds = [AttentionKind.Gqa, AttentionKind.Differential],
            FeedForwardKinds = [FeedForwardKind.SwiGlu, FeedForwardKind.Mlp, FeedForwardKind.Relu2], QkNorm = true, ValueEmbeddings = true,
        });
    }

    [Fact]
    public void A_config_of_two_billion_layers_is_listed_lazily_and_counted_without_overflow()
    {
        var huge = Tiny.Config(AttentionKind.Gqa, PositionKind.Rope) with { NLayer = int.MaxValue, DModel = 65536, NHead = 2048, NKvHead = 1024, FfnHidden = int.MaxValue };
        ParameterShapes.Of(huge).Take(3).Select(s => s.Name).Should().Equal("model.embed_tokens.weight", "model.layers.0.input_layernorm.weight", "model.layers.0.self_attn.q_proj.weight");
        ParameterShapes.Count(huge).Should().BeGreaterThan(long.MaxValue, "the count is a double: 2^31 layers of 3 x 65536 x 2^31 weights");
    }

    static void SameAsBuilt(ModelConfig config)
    {
        using var model = Tiny.Build(config);
        var built = model.state_dict().Select(kv => $"{kv.Key} {ParameterShape.ShapeText(kv.Value.shape)}").ToList();
        ParameterShapes.Of(config).Select(s => s.ToString()).Should().Equal(built);
        ParameterShapes.Count(config).Should().Be(model.parameters().Sum(x => x.numel()));
    }
}

using LMHarness.Config;
using LMHarness.Model;
using LMHarness.Summary;

namespace LMHarness.Tests.Config;

public class PresetTests
{
    public static IEnumerable<object[]> AllNames() => Presets.Names.Select(n => new object[] { n });

    // Closed forms, written out independently of the code: V d (tied embedding) + T d (learned positions)
    // + L (attention + ffn + 2 norms) + final norm.
    private static long Llama(long layers, long d, long heads, long kv, long ffn, long vocab = 50304, bool alternateDifferential = false)
    {
        long hd = d / heads, total = vocab * d + d;
        for (int i = 0; i < layers; i++)
        {
            bool diff = alternateDifferential && i % 2 == 1;
            long attn = diff ? 4 * d * d + 4 * (hd / 2) + hd : 2 * d * d + 2 * d * kv * hd;
            total += attn + 3 * d * ffn + 2 * d;
        }
        return total;
    }

    private static long Gpt2(long layers, long d, long ffn, long vocab, long context, bool bias)
    {
        long b = bias ? 1 : 0;
        long perLayer = 4 * d * d + 4 * d * b + 2 * d * ffn + (ffn + d) * b + 2 * (d + d * b);
        return vocab * d + context * d + layers * perLayer + d + d * b;
    }

    [Theory]
    [InlineData("llama3-220M", 221_406_208)]
    [InlineData("smol", 114_260_480)]
    [InlineData("smed", 233_322_240)]
    [InlineData("med", 362_927_040)]
    [InlineData("1B", 1_126_501_888)]
    [InlineData("gpt2-124M", 124_475_904)]
    [InlineData("nanogpt-cpu", 804_096)]
    [InlineData("llama-cpu", 808_192)]
    [InlineData("diff-cpu", 841_152)]
    public void Preset_parameter_count_equals_the_closed_form(string name, long expected)
    {
        long closedForm = name switch
        {
            "llama3-220M" => Llama(12, 1024, 16, 8, 3584),
            "smol" => Llama(30, 512, 8, 4, 1408),
            "smed" => Llama(30, 768, 12, 6, 2048),
            "med" => Llama(32, 960, 15, 5, 2560),
            "1B" => Llama(16, 2048, 32, 8, 8192, alternateDifferential: true),
            "gpt2-124M" => Gpt2(12, 768, 3072, 50304, 1024, bias: true),
            "nanogpt-cpu" => Gpt2(4, 128, 512, 65, 64, bias: false),
            "llama-cpu" => Llama(4, 128, 4, 2, 392, vocab: 65),
            "diff-cpu" => Llama(4, 128, 4, 2, 392, vocab: 65, alternateDifferential: true),
            _ => throw new ArgumentException(name),
        };
        closedForm.Should().Be(expected);
        ModelSummary.Of(Presets.Get(name)).TotalParameters.Should().Be(expected);
    }

    [Theory]
    [InlineData("nanogpt-cpu")]
    [InlineData("llama-cpu")]
    [InlineData("diff-cpu")]
    public void Built_CPU_presets_have_the_closed_form_count(string name)
    {
        var config = Presets.Get(name);
        using var model = new CausalLM(config);
        model.parameters().Sum(p => p.numel()).Should().Be(ModelSummary.Of(config).TotalParameters);
    }

    [Fact]
    public void The_llama_CPU_preset_matches_nanogpt_at_any_vocabulary()
    {
        foreach (int vocab in new[] { 65, 50304 })
        {
            double nano = ModelSummary.Of(Presets.Get("nanogpt-cpu") with { VocabSize = vocab }).TotalParameters;
            double llama = ModelSummary.Of(Presets.Get("llama-cpu") with { VocabSize = vocab }).TotalParameters;
            (llama - nano).Should().Be(4096);
        }
    }

    [Fact]
    public void The_nanogpt_CPU_preset_is_nanoGPTs_CPU_recipe()
    {
        var c = Presets.Get("nanogpt-cpu");
        (c.NLayer, c.NHead, c.DModel, c.ContextLength, c.VocabSize, c.Dropout).Should().Be((4, 4, 128, 64, 65, 0.0));
        (c.Position, c.Norm, c.FeedForwardKinds[0]).Should().Be((PositionKind.Learned, NormKind.LayerNorm, FeedForwardKind.Mlp));
        Presets.Default().Should().Be(Presets.Get("llama3-220M"));
        Presets.Get("LLAMA3-220m").Should().Be(Presets.Default());
        Presets.Get("1B").AttentionKinds.Should().Equal(AttentionKind.Gqa, AttentionKind.Differential);
        c.WithVocabSize(50304).Should().Be(c with { VocabSize = 50304 });
        c.WithVocabSize(50304).VocabSize.Should().Be(50304);
    }

    [Theory]
    [MemberData(nameof(AllNames))]
    public void Every_preset_round_trips_through_JSON(string name)
    {
        var config = Presets.Get(name) with { VocabSize = 1000 };
        var json = config.ToJson();
        json.Should().Contain("\"vocab_size\": 1000").And.Contain("\"attention_kinds\"").And.Contain("\"n_kv_head\"");
        var back = ModelConfig.FromJson(json);
        back.Should().Be(config);
        back.ToJson().Should().Be(json);
        back.Should().NotBe(config with { NLayer = config.NLayer + 1 });
    }

    [Fact]
    public void YaRN_settings_round_trip()
    {
        var config = Presets.Get("llama-cpu") with { Yarn = new YarnScaling(4, 64) };
        var json = config.ToJson();
        json.Should().Contain("\"original_context_length\": 64").And.Contain("\"beta_fast\": 32");
        ModelConfig.FromJson(json).Should().Be(config);
    }

    [Fact]
    public void An_unknown_preset_lists_the_known_ones() =>
        FluentActions.Invoking(() => Presets.Get("gpt5")).Should().Throw<ArgumentException>()
            .WithMessage("*unknown model preset 'gpt5'*nanogpt-cpu*");
}

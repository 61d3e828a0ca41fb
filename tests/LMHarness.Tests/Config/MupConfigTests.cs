using LMHarness.Config;
using LMHarness.Interop;

namespace LMHarness.Tests.Config;

/// <summary>The parametrization fields of <see cref="ModelConfig"/>: SP configs serialise as before (so their run
/// identities do not change), μP round-trips, and half-set μP is refused.</summary>
public class MupConfigTests
{
    static readonly ModelConfig Small = new() { VocabSize = 37, ContextLength = 16, NLayer = 2, DModel = 64, NHead = 4, NKvHead = 4, FfnHidden = 96 };

    [Fact]
    public void An_SP_config_writes_no_parametrization_keys_so_old_identities_hold()
    {
        var json = Small.ToJson();
        json.Should().NotContain("parametrization").And.NotContain("mup_");
        // An old config.json (no such keys) reads back as SP and equal.
        ModelConfig.FromJson(json).Should().Be(Small);
        ModelConfig.FromJson(json).Parametrization.Should().Be(Parametrization.Sp);
    }

    [Fact]
    public void A_mup_config_round_trips_by_name()
    {
        var mup = Small with { Parametrization = Parametrization.Mup, MupBaseWidth = 32, MupBaseHeadDim = 8 };
        var json = mup.ToJson();
        json.Should().Contain("\"parametrization\": \"mup\"").And.Contain("\"mup_base_width\": 32").And.Contain("\"mup_base_head_dim\": 8");
        ModelConfig.FromJson(json).Should().Be(mup);
        ModelConfig.FromJson(json).Should().NotBe(Small);
        var numeric = json.Replace("\"parametrization\": \"mup\"", "\"parametrization\": 1");
        ((Action)(() => ModelConfig.FromJson(numeric))).Should().Throw<InvalidDataException>().WithMessage("*parametrization*");
    }

    [Fact]
    public void Half_set_mup_is_refused_with_the_fix()
    {
        ((Action)(() => (Small with { Parametrization = Parametrization.Mup }).Validated())).Should().Throw<ArgumentException>().WithMessage("*needs mup_base_width*");
        ((Action)(() => (Small with { MupBaseWidth = 32 }).Validated())).Should().Throw<ArgumentException>().WithMessage("*apply to parametrization mup only*");
        ((Action)(() => (Small with { Parametrization = Parametrization.Mup, MupBaseWidth = 30 }).Validated())).Should().Throw<ArgumentException>().WithMessage("*divisible by n_head*");
    }

    [Fact]
    public void HF_export_refuses_mup_away_from_the_base_width_only()
    {
        var gpt2 = Small;   // learned positions, layer norm, MLP: the GPT-2 layout
        HfArchitectures.CanExport(gpt2 with { Parametrization = Parametrization.Mup, MupBaseWidth = 64 }).Should().BeTrue();
        var wide = gpt2 with { Parametrization = Parametrization.Mup, MupBaseWidth = 32 };
        HfArchitectures.CanExport(wide).Should().BeFalse();
        ((Action)(() => HfArchitectures.Choose(wide))).Should().Throw<NotSupportedException>().WithMessage("*output multiplier*");
        // At the base width with a tuned output multiplier the logits carry it, so μP is no longer SP there either.
        var tuned = gpt2 with { Parametrization = Parametrization.Mup, MupBaseWidth = 64, MupOutputMultiplier = 16 };
        HfArchitectures.CanExport(tuned).Should().BeFalse();
        ((Action)(() => HfArchitectures.Choose(tuned))).Should().Throw<NotSupportedException>().WithMessage("*mup_output_multiplier 16*export a model with mup_output_multiplier 1*");
    }

    [Fact]
    public void Parametrization_fields_are_knobs_though_SP_configs_do_not_write_them()
    {
        var options = new Dictionary<string, string> { ["parametrization"] = "mup", ["mup_base_width"] = "32" };
        var (mup, applied) = LMHarness.Experiments.ConfigOverrides.Apply(Small, options, ModelConfig.Json);
        applied.Should().BeEquivalentTo(["parametrization", "mup_base_width"]);
        mup.Parametrization.Should().Be(Parametrization.Mup);
        mup.MupBaseWidth.Should().Be(32);
    }
}

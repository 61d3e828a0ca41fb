using LMHarness.Config;

namespace LMHarness.Tests.Config;

public class ModelConfigValidationTests
{
    private static readonly ModelConfig Good = Presets.Get("llama-cpu");

    public static IEnumerable<object[]> Bad() =>
    [
        [Good with { DModel = 130 }, "*d_model (130) must be divisible by n_head (4)*"],
        [Good with { NKvHead = 3 }, "*n_head (4) must be divisible by n_kv_head (3)*"],
        [Good with { DModel = 12, NHead = 4, NKvHead = 4 }, "*rotary embedding needs an even head_dim*"],
        [Good with { VocabSize = 0 }, "*vocab_size must be > 0*"],
        [Good with { NLayer = -1 }, "*n_layer must be > 0*"],
        [Good with { FfnHidden = 0 }, "*ffn_hidden must be > 0*"],
        [Good with { Dropout = 1.0 }, "*dropout must be in [0, 1)*"],
        [Good with { AttentionKinds = [] }, "*attention_kinds must list at least one kind*"],
        [Good with { AttentionKinds = [AttentionKind.Differential], DModel = 24, NHead = 4, NKvHead = 4 }, "*divisible by 4*"],
        [Good with { Position = PositionKind.Learned, Yarn = new YarnScaling(2, 64) }, "*yarn scaling applies to rotary positions only*"],
        [Good with { Yarn = new YarnScaling(0.5, 64) }, "*factor >= 1*"],
        [Good with { NormEps = 0 }, "*norm_eps must be > 0*"],
    ];

    [Theory]
    [MemberData(nameof(Bad))]
    public void Impossible_configs_fail_with_a_message_naming_the_problem(ModelConfig config, string message) =>
        config.Invoking(c => c.Validated()).Should().Throw<ArgumentException>().WithMessage(message);

    [Fact]
    public void All_problems_are_reported_at_once()
    {
        var error = (Good with { VocabSize = 0, NLayer = 0 }).Invoking(c => c.Validated()).Should().Throw<ArgumentException>().Which;
        error.Message.Should().Contain("vocab_size").And.Contain("n_layer");
    }

    [Fact]
    public void Bad_JSON_is_validated_on_load()
    {
        var json = (Good with { VocabSize = 0 }).ToJson();
        FluentActions.Invoking(() => ModelConfig.FromJson(json)).Should().Throw<InvalidDataException>().WithMessage("*vocab_size*");
        FluentActions.Invoking(() => ModelConfig.FromJson("null")).Should().Throw<InvalidDataException>();
    }

    [Fact]
    public void Building_a_model_validates_the_config() =>
        FluentActions.Invoking(() => new LMHarness.Model.CausalLM(Good with { NKvHead = 3 })).Should().Throw<ArgumentException>().WithMessage("*n_kv_head*");
}

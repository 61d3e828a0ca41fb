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
        [Good with { LogitSoftcap = -1 }, "*logit_softcap must be a finite number >= 0 (0 turns it off; got -1)*"],
        [Good with { LogitSoftcap = double.PositiveInfinity }, "*logit_softcap must be a finite number >= 0*"],
        [Good with { SkipConnections = true, NLayer = 1 }, "*skip_connections*needs n_layer >= 2 (got 1)*"],
    ];

    [Fact]
    public void Speedrun_options_round_trip_through_snake_case_JSON()
    {
        var config = Good with
        {
            QkNorm = true, FeedForwardKinds = [FeedForwardKind.Relu2], LogitSoftcap = 15, ValueEmbeddings = true,
            SkipConnections = true, ZeroInitOutputs = true,
        };
        var json = config.ToJson();
        json.Should().Contain("\"qk_norm\": true").And.Contain("\"relu2\"").And.Contain("\"logit_softcap\": 15")
            .And.Contain("\"value_embeddings\": true").And.Contain("\"skip_connections\": true").And.Contain("\"zero_init_outputs\": true");
        ModelConfig.FromJson(json).Should().Be(config);
        // A config written before these options existed reads them as off.
        var old = ModelConfig.FromJson("{\"vocab_size\": 65, \"n_layer\": 2}");
        (old.QkNorm, old.LogitSoftcap, old.ValueEmbeddings, old.SkipConnections, old.ZeroInitOutputs).Should().Be((false, 0.0, false, false, false));
    }

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

using LMHarness.Config;
using LMHarness.Summary;
using LMHarness.Experiments;
using LMHarness.Interop;
using LMHarness.Model;
using LMHarness.Runs;
using LMHarness.Training;
using LMHarness.Training.Checkpoints;

namespace LMHarness.Tests.Training;

/// <summary>
/// training.freeze (<see cref="Freezing"/>): what it names keeps its bytes through a fine-tune, weight decay included,
/// while the rest trains, in fp32 and bf16, and across a stop and resume; patterns select by HF name segment; a pattern
/// that names nothing, or one that names everything, is refused naming it; and configs without it keep their identity.
/// </summary>
[Collection(nameof(GlobalTorchState))] // training seeds torch's generator and sets its thread count
public sealed class FreezingTests
{
    static ModelConfig TwoLayers => TrainingFixtures.TinyModel with { NLayer = 2, Dropout = 0 };
    static readonly string[] Frozen = ["model.embed_tokens", "model.layers.0"];

    /// <summary>Each parameter of the run's newest checkpoint, by name.</summary>
    static Dictionary<string, float[]> Weights(string run)
    {
        using var m = new CausalLM(new RunFolder(run).ReadConfig().Model);
        Checkpoint.LoadModel(new RunFolder(run).LatestCheckpoint!, m);
        return m.named_parameters().ToDictionary(x => x.name, x => x.parameter.data<float>().ToArray());
    }

    [Theory]
    [InlineData(TrainingDtype.Fp32, false)]
    [InlineData(TrainingDtype.Bf16, false)]
    [InlineData(TrainingDtype.Fp32, true)] // recomputed blocks route gradients to their trained parameters only
    public void Frozen_parameters_keep_the_sources_bytes_while_the_rest_trains_and_a_resume_is_bitwise(TrainingDtype dtype, bool recompute)
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var source = dir.File("source");
        var pre = Trainer.For(TwoLayers, TrainingFixtures.TinyTraining with { MaxSteps = 3, WarmupSteps = 1, EvalInterval = 3 }, tokens, source);
        pre.Progress = null;
        pre.Train();

        var fineTune = TrainingFixtures.TinyTraining with { MaxSteps = 6, WarmupSteps = 1, EvalInterval = 3, CheckpointInterval = 3, Dtype = dtype, WeightDecay = 0.5, InitFrom = source, Freeze = Frozen };
        RunResult Tune(string run, Action<Trainer>? setup = null)
        {
            var (model, training, stream, _) = recompute
                ? InitSource.Plan(TwoLayers with { RecomputeActivations = true }, ["recompute_activations"], fineTune, tokens)
                : InitSource.Plan(TwoLayers, [], fineTune, tokens);
            var trainer = Trainer.For(model, training, tokens, run, stream);
            trainer.Progress = null;
            setup?.Invoke(trainer);
            return trainer.Train();
        }
        Tune(dir.File("tuned"));

        var before = Weights(source);
        var after = Weights(dir.File("tuned"));
        var frozen = before.Keys.Where(n => n.StartsWith("model.embed_tokens.", StringComparison.Ordinal) || n.StartsWith("model.layers.0.", StringComparison.Ordinal)).ToList();
        frozen.Should().HaveCountGreaterThan(5);
        foreach (var n in frozen) after[n].Should().Equal(before[n], $"{n} is frozen: its bytes are the source's");
        foreach (var n in before.Keys.Except(frozen)) after[n].Should().NotEqual(before[n], $"{n} trains");
        // MFU counts the FLOPs the frozen run does: no gradient for the frozen weights, none below block 1 but the head's input's.
        var flops = ModelSummary.Of(TwoLayers).FlopsPerToken(fineTune.ContextLength, Frozen);
        flops.Should().BeLessThan(ModelSummary.Of(TwoLayers).FlopsPerToken(fineTune.ContextLength));
        var timed = MetricsRow.Read(dir.File("tuned/metrics.csv")).Where(r => r.TokensPerS > 0).ToList();
        timed.Should().NotBeEmpty();
        foreach (var r in timed) r.Mfu.Should().BeApproximately(r.TokensPerS * flops / fineTune.PeakFlops, 1e-6 * r.Mfu, $"step {r.Step}");

        // Stopped at step 3 and resumed: the optimizer state of the trained parameters only, restored, gives the same run.
        Tune(dir.File("split"), t => t.StepCompleted += r => { if (r.Step == 3) t.RequestStop(); }).Steps.Should().Be(3);
        Trainer.Resume(dir.File("split")).Steps.Should().Be(6);
        var resumed = Weights(dir.File("split"));
        foreach (var n in before.Keys) resumed[n].Should().Equal(after[n], $"{n} after a resume");
        new RunFolder(dir.File("split")).ReadConfig().Training.Freeze.Should().Equal(Frozen, "config.json records what was frozen");
    }

    [Theory]
    [InlineData("model.layers.0-3", "model.layers.3.mlp.up_proj.weight", true)]
    [InlineData("model.layers.0-3", "model.layers.4.mlp.up_proj.weight", false)]
    [InlineData("model.layers.1", "model.layers.10.mlp.up_proj.weight", false)] // a segment, not a text prefix
    [InlineData("model.layers.*.self_attn", "model.layers.7.self_attn.q_proj.weight", true)]
    [InlineData("model.layers.*.self_attn", "model.layers.7.mlp.up_proj.weight", false)]
    [InlineData("model.embed_tokens", "model.embed_tokens.weight", true)]
    [InlineData("model.embed", "model.embed_tokens.weight", false)]
    [InlineData("model.norm.weight", "model.norm.weight", true)]
    [InlineData("model.norm.weight.x", "model.norm.weight", false)]
    public void Patterns_match_whole_name_segments_with_ranges_and_wildcards(string pattern, string name, bool matches) =>
        ParameterPattern.Parse(pattern).Matches(name).Should().Be(matches);

    [Theory]
    [InlineData("", "*empty pattern*")]
    [InlineData("model..layers", "*empty segment*")]
    [InlineData("model.layers.3-1", "*runs backwards (write 1-3)*")]
    [InlineData("model.layers.0-3x", "*segment '0-3x' is not a name*")]
    public void Malformed_patterns_are_refused_by_the_config_naming_the_problem(string pattern, string message) =>
        FluentActions.Invoking(() => (TrainingFixtures.TinyTraining with { Freeze = [pattern] }).Validated())
            .Should().Throw<ArgumentException>().WithMessage(message).WithMessage("*freeze*model.layers.0-3*");

    [Fact]
    public void A_pattern_that_names_nothing_or_everything_is_refused_before_the_run_writes_anything()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        foreach (var (freeze, message) in new[]
                 {
                     (new[] { "model.layers.0-3", "blocks.0-3" }, "*'blocks.0-3' names no parameter*model.layers.0-1.self_attn, *model.norm.weight*inspect.csx*"),
                     (new[] { "model", }, "*names every parameter*nothing to train*"),
                 })
        {
            var run = dir.File($"run-{freeze.Length}");
            var trainer = Trainer.For(TwoLayers, TrainingFixtures.TinyTraining with { Freeze = freeze }, tokens, run);
            trainer.Progress = null;
            FluentActions.Invoking(() => trainer.Train()).Should().Throw<ArgumentException>().WithMessage(message);
            Directory.Exists(run).Should().BeFalse("a refused run leaves no folder behind");
        }
    }

    [Fact]
    public void Without_freeze_the_config_json_and_run_identity_are_as_before_and_the_knob_parses_a_comma_list()
    {
        var plain = TrainingFixtures.TinyTraining;
        plain.ToJson().Should().NotContain("freeze");
        (plain with { Freeze = [] }).Should().Be(plain, "an empty list freezes nothing and is not written");
        (plain with { Freeze = [] }).ToJson().Should().Be(plain.ToJson());
        var data = new System.Text.Json.Nodes.JsonObject { ["identity"] = "x" };
        RunIdentity.Of(TwoLayers, plain with { Freeze = ["model.embed_tokens"] }, data).Should().NotBe(RunIdentity.Of(TwoLayers, plain, data));

        var (applied, keys) = ConfigOverrides.Apply(plain, new Dictionary<string, string> { ["freeze"] = "model.embed_tokens,model.layers.0-3" }, TrainingConfig.Json);
        keys.Should().Equal("freeze");
        applied.Freeze.Should().Equal("model.embed_tokens", "model.layers.0-3");
        TrainingConfig.FromJson(applied.ToJson()).Should().Be(applied, "config.json reads back what was written");
    }
}

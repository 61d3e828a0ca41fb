using LMHarness.Config;
using LMHarness.Experiments;
using LMHarness.Training;

namespace LMHarness.Tests.Experiments;

public class ScriptArgsTests
{
    [Fact]
    public void Options_flags_and_positionals_are_parsed_and_converted()
    {
        var a = new ScriptArgs(["runs/a", "--steps", "300", "--lr", "3e-3", "--smoke", "--n-layer", "4", "runs/b"]);
        a.Get("steps", 10).Should().Be(300);
        a.Get("lr", 1.0).Should().Be(3e-3);
        a.Get("smoke", false).Should().BeTrue();
        a.Get("n_layer", 1).Should().Be(4);
        a.Get("missing", "default").Should().Be("default");
        a.Positional.Should().Equal("runs/a", "runs/b");
        a.EnsureAllUsed("test");
    }

    [Fact]
    public void Unread_option_and_bad_value_are_errors_naming_them()
    {
        var a = new ScriptArgs(["--stpes", "3", "--lr", "fast"]);
        FluentActions.Invoking(() => a.Get("lr", 1e-3)).Should().Throw<ArgumentException>().WithMessage("--lr fast is not a valid Double*");
        FluentActions.Invoking(() => a.EnsureAllUsed("train.csx")).Should().Throw<ArgumentException>()
            .WithMessage("train.csx: unknown option(s) --stpes; it reads --lr.");
    }

    [Fact]
    public void Config_overrides_set_fields_by_json_name_and_revalidate()
    {
        var options = new Dictionary<string, string>
        {
            ["n_layer"] = "6", ["position"] = "rope", ["attention_kinds"] = "[\"gqa\"]", ["n_kv_head"] = "3",
            ["context_length"] = "128", ["max_steps"] = "777", ["not_a_field"] = "1",
        };
        var (model, appliedModel) = ConfigOverrides.Apply(new ModelConfig(), options, ModelConfig.Json);
        var (training, appliedTraining) = ConfigOverrides.Apply(new TrainingConfig(), options, TrainingConfig.Json);

        (model.NLayer, model.Position, model.AttentionKinds.Single(), model.NKvHead, model.ContextLength)
            .Should().Be((6, PositionKind.Rope, AttentionKind.Gqa, 3, 128));
        (training.MaxSteps, training.ContextLength).Should().Be((777, 128));
        appliedModel.Should().BeEquivalentTo("n_layer", "position", "attention_kinds", "n_kv_head", "context_length");
        appliedTraining.Should().BeEquivalentTo("context_length", "max_steps");

        FluentActions.Invoking(() => ConfigOverrides.Apply(new ModelConfig(), new Dictionary<string, string> { ["n_head"] = "5" }, ModelConfig.Json))
            .Should().Throw<ArgumentException>().WithMessage("*divisible by n_head (5)*");
    }

    [Fact]
    public void Experiment_rejects_unknown_knobs_and_applies_smoke_settings()
    {
        var dir = Directory.CreateTempSubdirectory("lmh-exp-").FullName;
        try
        {
            var exp = new Experiment("t", ["--steps", "5", "--smoke", "--out", dir, "--typo", "1"]);
            exp.Smoke.Should().BeTrue();
            exp.Seeds.Should().Be(1);
            exp.Knob("steps", 100).Should().Be(5);
            exp.Folder.Should().Be(Path.Combine(dir, "smoke", "t"), "smoke runs never sit beside real results");
            exp.Variant("v", new ModelConfig { NLayer = 1, DModel = 16, NHead = 2, NKvHead = 2, FfnHidden = 32, VocabSize = 10, ContextLength = 8 },
                new TrainingConfig { MaxSteps = 100 });
            FluentActions.Invoking(() => exp.Run()).Should().Throw<ArgumentException>().WithMessage("*unknown knob(s) --typo*");
            var smoke = Experiment.SmokeVersion(new TrainingConfig { MaxSteps = 1000, MaxTokens = 1 << 20, WarmupSteps = 100 });
            (smoke.TotalSteps, smoke.WarmupSteps, smoke.EvalInterval, smoke.CheckpointInterval).Should().Be((Experiment.SmokeSteps, 1, 3, 0));
            smoke.Validated();
        }
        finally { Directory.Delete(dir, true); }
    }
}

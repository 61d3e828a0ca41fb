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
        a.Rest("runs", "run folders").Should().Equal("runs/a", "runs/b");
        a.EnsureAllUsed("test");
    }

    [Fact]
    public void Repeated_options_keep_every_value_and_positionals_are_declared_and_checked()
    {
        var a = new ScriptArgs(["model", "--prompt", "a", "--prompt", "b c", "--max", "abc"]);
        a.Argument("model", "a run folder").Should().Be("model");
        a.All("prompt", ["\n"]).Should().Equal("a", "b c");
        a.All("stop", []).Should().BeEmpty();
        FluentActions.Invoking(() => a.Get("max", 200)).Should().Throw<ArgumentException>().WithMessage("--max abc: expected an integer (default 200).");
        a.EnsureAllUsed("sample.csx");

        var missing = new ScriptArgs(["--max", "3"]);
        missing.Argument("model", "a run folder, checkpoint or export");
        missing.Get("max", 1);
        FluentActions.Invoking(() => missing.EnsureAllUsed("sample.csx")).Should().Throw<ArgumentException>()
            .WithMessage("sample.csx: missing <model>: a run folder, checkpoint or export. Usage: sample.csx <model> [--key value ...]");
        var extra = new ScriptArgs(["m", "n"]);
        extra.Argument("model", "a run folder");
        FluentActions.Invoking(() => extra.EnsureAllUsed("sample.csx")).Should().Throw<ArgumentException>().WithMessage("sample.csx: unexpected argument 'n'*");
    }

    [Fact]
    public void Help_lists_arguments_and_knobs_with_defaults_and_ends_the_script()
    {
        var a = new ScriptArgs(["--help"]);
        a.HelpRequested.Should().BeTrue();
        a.Argument("model", "a run folder");
        a.Get("temperature", 0.8, "softmax temperature; 0 = greedy");
        a.Get<long?>("seed", null);
        a.Has("native", "harness format");
        a.Help("sample.csx").Should().Be(
            "usage: sample.csx <model> [--key value ...]\n" +
            "  <model>                     a run folder\n" +
            "knobs and their defaults (--key value; a bare --flag means true):\n" +
            "  --temperature               0.8               softmax temperature; 0 = greedy\n" +
            "  --seed                      (none)\n" +
            "  --native                    false             harness format\n");
    }

    [Fact]
    public void Unread_option_and_bad_value_are_errors_naming_them()
    {
        var a = new ScriptArgs(["--stpes", "3", "--lr", "fast"]);
        FluentActions.Invoking(() => a.Get("lr", 1e-3)).Should().Throw<ArgumentException>().WithMessage("--lr fast: expected a number (default 0.001).");
        FluentActions.Invoking(() => a.EnsureAllUsed("train.csx")).Should().Throw<ArgumentException>()
            .WithMessage("train.csx: unknown option(s) --stpes; it reads --lr (--help lists them with their defaults).");
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

using System.Reflection;
using System.Text.Json.Nodes;
using LMHarness.Config;
using LMHarness.Experiments;
using LMHarness.Runs;
using LMHarness.Tests.Training;
using LMHarness.Training;

namespace LMHarness.Tests.Config;

/// <summary>
/// Issue 21, item 1: every knob is validated before anything touches the disk. Every enum knob and every numeric (and
/// boolean) knob of both configs is given wrong types, out-of-range values and numbers for names, the way
/// scripts/train.csx reads them (<see cref="ConfigOverrides"/>, then <see cref="Trainer"/>); each is refused naming the
/// knob, and the run folder (with its parents) never appears. The same holds for config files and for configs built in
/// code (a cast such as <c>(PositionKind)7</c>).
/// </summary>
public class KnobValidationTests
{
    /// <summary>What train.csx does with its command line: overrides, then a trainer for the folder, then training.</summary>
    static void TrainLikeTheScript(string tokens, string runDir, params string[] args)
    {
        var a = new ScriptArgs(args);
        var (model, _) = ConfigOverrides.Apply(TrainingFixtures.TinyModel, a, ModelConfig.Json);
        var (training, _) = ConfigOverrides.Apply(TrainingFixtures.TinyTraining, a, TrainingConfig.Json);
        a.EnsureAllUsed("train");
        var trainer = Trainer.For(model, training, tokens, runDir);
        trainer.Progress = null;
        trainer.Train();
    }

    /// <summary>JSON name and type of every settable field of <typeparamref name="T"/>.</summary>
    static IEnumerable<(string Name, Type Type)> Knobs<T>() =>
        typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is not null)
            .Select(p => (System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name), p.PropertyType));

    static bool IsEnumKnob(Type t) =>
        t.IsEnum || (t.IsGenericType && t.GetGenericArguments() is [var e] && e.IsEnum);

    static bool IsNumber(Type t) => t == typeof(int) || t == typeof(long) || t == typeof(double);

    /// <summary>(knob, value) pairs every one of which must be refused.</summary>
    public static IEnumerable<(string Knob, string Value)> BadValues()
    {
        var knobs = Knobs<ModelConfig>().Concat(Knobs<TrainingConfig>()).DistinctBy(k => k.Name).ToList();
        foreach (var (name, type) in knobs)
        {
            if (IsEnumKnob(type))
                foreach (var v in new[] { "7", "0", "1", "-1", "", "nope", "1.5", "true", "{}" })
                    yield return (name, v);
            else if (IsNumber(type))
            {
                foreach (var v in new[] { "six", "true", "[1]", "{}", "\"3\"", "1e999", "NaN" }) yield return (name, v);
                if (name != "seed") yield return (name, "-1"); // every count, rate and size is >= 0; a seed may be negative
                if (type != typeof(double)) { yield return (name, "1.5"); yield return (name, "99999999999999999999"); }
            }
            else if (type == typeof(bool))
                foreach (var v in new[] { "7", "0", "yes", "[true]" }) yield return (name, v);
        }
    }

    [Fact]
    public void Every_enum_numeric_and_boolean_knob_refuses_wrong_types_out_of_range_values_and_numbers_for_names_before_writing_anything()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var cases = BadValues().ToList();
        cases.Select(c => c.Knob).Distinct().Should().Contain(["position", "norm", "attention_kinds", "feed_forward_kinds", "optimizer",
            "schedule", "dtype", "fused_loss", "n_layer", "learning_rate", "max_steps", "seed", "bias"], "the fuzz reaches every kind of knob");
        var before = Directory.GetFileSystemEntries(dir.Path).Order().ToList();
        var accepted = new List<string>();
        foreach (var (knob, value) in cases)
        {
            var run = Path.Combine(dir.Path, "runs", "x", "seed0");
            try
            {
                TrainLikeTheScript(tokens, run, $"--{knob}", value);
                accepted.Add($"--{knob} {value}");
            }
            catch (ArgumentException e)
            {
                e.Message.Should().Contain(knob, $"the refusal of --{knob} '{value}' names the knob");
                if (IsEnumKnob(Knobs<ModelConfig>().Concat(Knobs<TrainingConfig>()).First(k => k.Name == knob).Type))
                    e.Message.Should().Contain("must", "it says what the knob takes");
            }
            Directory.GetFileSystemEntries(dir.Path).Order().Should().Equal(before, $"--{knob} '{value}' is refused before anything is written");
        }
        accepted.Should().BeEmpty();
    }

    [Fact]
    public void Every_bad_value_is_refused_in_a_config_file_too_naming_the_field()
    {
        var refused = 0;
        foreach (var (knob, value) in BadValues())
        {
            JsonNode? node;
            try { node = JsonNode.Parse(value); }
            catch (System.Text.Json.JsonException) { continue; } // not JSON at all: the file's parse error, tested elsewhere
            foreach (var (json, read) in new (JsonObject, Action<string>)[]
                     {
                         (JsonNode.Parse(TrainingFixtures.TinyModel.ToJson())!.AsObject(), s => ModelConfig.FromJson(s, "config.json, section \"model\"")),
                         (JsonNode.Parse(TrainingFixtures.TinyTraining.ToJson())!.AsObject(), s => TrainingConfig.FromJson(s, "config.json, section \"training\"")),
                     })
            {
                if (!json.ContainsKey(knob)) continue;
                json[knob] = node?.DeepClone();
                FluentActions.Invoking(() => read(json.ToJsonString())).Should().Throw<InvalidDataException>($"\"{knob}\": {value} in a config file")
                    .WithMessage($"config.json, section*{knob}*");
                refused++;
            }
        }
        refused.Should().BeGreaterThan(300);
        EnumNames.Parse<TrainingDtype>("bf16", "--dtype").Should().Be(TrainingDtype.Bf16);
        FluentActions.Invoking(() => EnumNames.Parse<TrainingDtype>("1", "--dtype")).Should().Throw<ArgumentException>().WithMessage("--dtype 1: use one of fp32, bf16.");
    }

    [Theory]
    [InlineData("position", "7", "one of learned, rope, none")]
    [InlineData("dtype", "5", "one of fp32, bf16")]
    [InlineData("optimizer", "9", "one of adamw, muon, ademamix")]
    [InlineData("norm", "4", "one of rms_norm, layer_norm")]
    [InlineData("attention_kinds", "5", "a list of raw, mha, gqa, differential")]
    [InlineData("schedule", "9", "one of cosine, linear, constant, warmup_stable_decay")]
    [InlineData("schedule", "", "one of cosine, linear, constant, warmup_stable_decay")]
    public void The_issues_numbers_for_names_are_refused_listing_the_names(string knob, string value, string names)
    {
        using var dir = new TempDir();
        var act = () => TrainLikeTheScript(TrainingFixtures.TokenFile(dir.Path), dir.File("run"), $"--{knob}", value);
        act.Should().Throw<ArgumentException>().WithMessage($"*--{knob}*{names}*");
        Directory.Exists(dir.File("run")).Should().BeFalse();
    }

    [Fact]
    public void Names_still_read_in_either_spelling_and_any_case()
    {
        var a = new ScriptArgs(["--position", "Rope", "--norm", "rms_norm", "--attention_kinds", "gqa,MHA"]);
        var (model, _) = ConfigOverrides.Apply(TrainingFixtures.TinyModel with { NHead = 2, NKvHead = 1 }, a, ModelConfig.Json);
        model.Position.Should().Be(PositionKind.Rope);
        model.Norm.Should().Be(NormKind.RmsNorm);
        model.AttentionKinds.Should().Equal(AttentionKind.Gqa, AttentionKind.Mha);
        new ScriptArgs(["--dtype", "BF16"]).Get("dtype", TrainingDtype.Fp32).Should().Be(TrainingDtype.Bf16);
    }

    [Theory]
    [InlineData("5")]
    [InlineData("1")]
    [InlineData("")]
    [InlineData("fp64")]
    public void A_typed_enum_option_of_a_script_or_recipe_refuses_numbers_listing_the_names(string value)
    {
        var act = () => new ScriptArgs(["--dtype", value]).Get<TrainingDtype?>("dtype", null);
        act.Should().Throw<ArgumentException>().WithMessage($"--dtype {value}: expected one of fp32, bf16*");
    }

    [Fact]
    public void Config_files_refuse_numbers_for_names_and_a_derived_value_that_disagrees()
    {
        var json = JsonNode.Parse(TrainingFixtures.TinyModel.ToJson())!.AsObject();
        json["position"] = 7;
        FluentActions.Invoking(() => ModelConfig.FromJson(json.ToJsonString(), "m.json")).Should().Throw<InvalidDataException>()
            .WithMessage("m.json: field 'position' must be one of learned, rope, none, not 7.*");
        json["position"] = "";
        FluentActions.Invoking(() => ModelConfig.FromJson(json.ToJsonString(), "m.json")).Should().Throw<InvalidDataException>()
            .WithMessage("m.json: field 'position' must be one of learned, rope, none, not \"\".*");

        var t = JsonNode.Parse(TrainingFixtures.TinyTraining.ToJson())!.AsObject();
        TrainingConfig.FromJson(t.ToJsonString(), "t.json").Should().Be(TrainingFixtures.TinyTraining, "the derived values as written read back");
        t["total_steps"] = 7;
        FluentActions.Invoking(() => TrainingConfig.FromJson(t.ToJsonString(), "t.json")).Should().Throw<InvalidDataException>()
            .WithMessage("t.json: 'total_steps' is derived (max_steps, *), so it is 12, not 7: remove it, or set max_steps or max_tokens.");
    }

    [Theory]
    [InlineData("total_steps", "7", "set max_steps or max_tokens instead")]
    [InlineData("tokens_per_step", "64", "set micro_batch, grad_accumulation or context_length instead")]
    public void Derived_values_are_refused_as_knobs_and_shown_as_derived_in_help(string knob, string value, string fix)
    {
        using var dir = new TempDir();
        var act = () => TrainLikeTheScript(TrainingFixtures.TokenFile(dir.Path), dir.File("run"), $"--{knob}", value);
        act.Should().Throw<ArgumentException>().WithMessage($"--{knob} is derived (*), not a knob: {fix}.");
        Directory.Exists(dir.File("run")).Should().BeFalse();

        var a = new ScriptArgs([]);
        ConfigOverrides.Apply(TrainingFixtures.TinyTraining, a, TrainingConfig.Json);
        a.Help("train").Split('\n').Should().ContainSingle(l => l.StartsWith($"  --{knob} ")).Which.Should().Contain("derived, not a knob");
    }

    [Fact]
    public void Configs_built_in_code_with_a_value_no_name_has_are_refused_before_a_folder_exists()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var bad = new (ModelConfig Model, TrainingConfig Training, string Field)[]
        {
            (TrainingFixtures.TinyModel with { Position = (PositionKind)7 }, TrainingFixtures.TinyTraining, "position"),
            (TrainingFixtures.TinyModel with { Norm = (NormKind)4 }, TrainingFixtures.TinyTraining, "norm"),
            (TrainingFixtures.TinyModel with { AttentionKinds = [(AttentionKind)5] }, TrainingFixtures.TinyTraining, "attention_kinds"),
            (TrainingFixtures.TinyModel, TrainingFixtures.TinyTraining with { Schedule = (ScheduleKind)9 }, "schedule"),
            (TrainingFixtures.TinyModel, TrainingFixtures.TinyTraining with { Optimizer = (OptimizerKind)9 }, "optimizer"),
            (TrainingFixtures.TinyModel, TrainingFixtures.TinyTraining with { Dtype = (TrainingDtype)5 }, "dtype"),
            (TrainingFixtures.TinyModel, TrainingFixtures.TinyTraining with { LearningRate = double.PositiveInfinity }, "learning_rate"),
            (TrainingFixtures.TinyModel, TrainingFixtures.TinyTraining with { MicroBatch = 1 << 20, ContextLength = 1 << 12 }, "tokens per step"),
        };
        foreach (var (model, training, field) in bad)
        {
            FluentActions.Invoking(() => Trainer.Run(model, training, tokens, dir.File("run"))).Should().Throw<ArgumentException>().WithMessage($"*{field}*");
            FluentActions.Invoking(() => new Experiment("knobs", ["--out", dir.File("runs")]).Variant("v", model, training))
                .Should().Throw<ArgumentException>().WithMessage($"experiment knobs: variant 'v': *{field}*");
            Directory.Exists(dir.File("run")).Should().BeFalse();
            Directory.Exists(dir.File("runs")).Should().BeFalse();
        }
    }

    [Fact]
    public void A_run_refused_by_its_device_its_memory_or_its_folder_leaves_no_folder_lock_or_file()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var run = Path.Combine(dir.Path, "runs", "new", "seed0");
        FluentActions.Invoking(() => TrainLikeTheScript(tokens, run, "--device", "gpu")).Should().Throw<ArgumentException>().WithMessage("*'gpu' is not a device*");
        FluentActions.Invoking(() => TrainLikeTheScript(tokens, run, "--d_model", "65536", "--ffn_hidden", "262144", "--n_layer", "64"))
            .Should().Throw<Exception>().WithMessage("*Training*");
        Directory.Exists(dir.File("runs")).Should().BeFalse("neither the run folder nor the parents made for it remain");

        // A folder of someone else's files: refused, and no .lock is left among them.
        var foreign = dir.File("notes");
        Directory.CreateDirectory(foreign);
        File.WriteAllText(Path.Combine(foreign, "notes.txt"), "mine");
        FluentActions.Invoking(() => TrainLikeTheScript(tokens, foreign)).Should().Throw<InvalidOperationException>().WithMessage("*holds files no run wrote (notes.txt)*");
        Directory.GetFileSystemEntries(foreign).Select(Path.GetFileName).Should().Equal("notes.txt");
    }
}

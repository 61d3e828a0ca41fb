using System.Text.Json.Nodes;
using LMHarness.Config;
using LMHarness.Experiments;
using LMHarness.Training;

namespace LMHarness.Tests.Config;

public class ConfigFileErrorTests
{
    /// <summary>A run folder whose config.json is what the trainer writes, edited by <paramref name="edit"/>.</summary>
    static string RunFolderWith(TempDir dir, Action<JsonObject> edit)
    {
        var doc = new JsonObject
        {
            ["model"] = JsonNode.Parse(new ModelConfig().ToJson()),
            ["training"] = JsonNode.Parse(new TrainingConfig().ToJson()),
            ["data"] = new JsonObject { ["token_file"] = "/nowhere/tokens.bin" },
            ["environment"] = new JsonObject { ["os"] = "linux" },
        };
        edit(doc);
        File.WriteAllText(dir.File(LMHarness.Runs.RunFolder.ConfigFile), doc.ToJsonString());
        return dir.Path;
    }

    [Fact]
    public void A_wrong_type_names_the_file_the_section_the_field_and_what_it_takes()
    {
        using var dir = new TempDir();
        var run = RunFolderWith(dir, d => d["model"]!["n_layer"] = "six");
        var file = dir.File("config.json");
        FluentActions.Invoking(() => new LMHarness.Runs.RunFolder(run).ReadConfig()).Should().Throw<InvalidDataException>()
            .WithMessage($"{file}, section \"model\": field 'n_layer' must be a whole number (e.g. 6), not \"six\". Fix the value in the file.");

        RunFolderWith(dir, d => d["training"]!["optimizer"] = "adam");
        FluentActions.Invoking(() => Trainer.Resume(run)).Should().Throw<InvalidDataException>()
            .WithMessage($"{file}, section \"training\": field 'optimizer' must be one of adamw, muon, ademamix, not \"adam\".*");

        RunFolderWith(dir, d => d["model"]!["attention_kinds"] = "gqa");
        FluentActions.Invoking(() => new LMHarness.Runs.RunFolder(run).ReadConfig()).Should().Throw<InvalidDataException>()
            .WithMessage("*field 'attention_kinds' must be a list of raw, mha, gqa, differential (e.g. [\"raw\"]), not \"gqa\".*");
    }

    [Fact]
    public void Unknown_keys_are_refused_all_at_once_naming_them_and_the_file()
    {
        using var dir = new TempDir();
        var file = dir.File("config.json");
        var run = RunFolderWith(dir, d => { d["model"]!["n_layers"] = 6; d["model"]!["yarn"] = new JsonObject { ["factor"] = 2, ["original_context_length"] = 64, ["beta"] = 1 }; });
        FluentActions.Invoking(() => new LMHarness.Runs.RunFolder(run).ReadConfig()).Should().Throw<InvalidDataException>()
            .WithMessage($"{file}, section \"model\" has unknown key(s) 'yarn.beta', 'n_layers': remove them or fix their spelling. ModelConfig has vocab_size, context_length, n_layer,*, init_std, qk_norm,*, zero_init_outputs, parametrization, mup_base_width, mup_base_head_dim, mup_output_multiplier.");

        RunFolderWith(dir, d => d["extras"] = 1);
        FluentActions.Invoking(() => new LMHarness.Runs.RunFolder(run).ReadConfig()).Should().Throw<InvalidDataException>()
            .WithMessage($"{file} has unknown key(s) 'extras'*A run's config.json has model, training, data, environment.");

        RunFolderWith(dir, d => d["model"]!["n_head"] = 5);
        FluentActions.Invoking(() => new LMHarness.Runs.RunFolder(run).ReadConfig()).Should().Throw<InvalidDataException>()
            .WithMessage($"{file}, section \"model\": Invalid model config: d_model (768) must be divisible by n_head (5)*Fix the file.");

        RunFolderWith(dir, d => d["model"]!["head_dim"] = 64);
        FluentActions.Invoking(() => new LMHarness.Runs.RunFolder(run).ReadConfig()).Should().Throw<InvalidDataException>().WithMessage("*unknown key(s) 'head_dim'*", "a derived value is not a field");

        RunFolderWith(dir, _ => { });
        new LMHarness.Runs.RunFolder(run).ReadConfig().Model.Should().Be(new ModelConfig(), "the file the trainer writes (total_steps and tokens_per_step included) reads back");
    }

    [Fact]
    public void Old_files_with_the_renamed_activation_checkpointing_key_still_read_and_both_names_are_refused()
    {
        using var dir = new TempDir();
        var run = RunFolderWith(dir, d => { d["model"]!.AsObject().Remove("recompute_activations"); d["model"]!["activation_checkpointing"] = true; });
        new LMHarness.Runs.RunFolder(run).ReadConfig().Model.RecomputeActivations.Should().BeTrue("activation_checkpointing is the earlier name of recompute_activations");
        RunFolderWith(dir, d => d["model"]!["activation_checkpointing"] = true);
        FluentActions.Invoking(() => new LMHarness.Runs.RunFolder(run).ReadConfig()).Should().Throw<InvalidDataException>()
            .WithMessage("*has both 'activation_checkpointing' (the earlier name) and 'recompute_activations': remove 'activation_checkpointing'.");
    }

    [Fact]
    public void A_bare_word_or_comma_list_overrides_a_list_field_and_a_bad_value_says_how_to_write_it()
    {
        ConfigOverrides.Apply(new ModelConfig(), new Dictionary<string, string> { ["attention_kinds"] = "gqa" }, ModelConfig.Json)
            .Config.AttentionKinds.Should().Equal(AttentionKind.Gqa);
        ConfigOverrides.Apply(new ModelConfig(), new Dictionary<string, string> { ["attention_kinds"] = "gqa,mha" }, ModelConfig.Json)
            .Config.AttentionKinds.Should().Equal(AttentionKind.Gqa, AttentionKind.Mha);
        ConfigOverrides.Apply(new ModelConfig(), new Dictionary<string, string> { ["attention_kinds"] = "[\"differential\"]" }, ModelConfig.Json)
            .Config.AttentionKinds.Should().Equal(AttentionKind.Differential);

        FluentActions.Invoking(() => ConfigOverrides.Apply(new ModelConfig(), new Dictionary<string, string> { ["attention_kinds"] = "gqx" }, ModelConfig.Json))
            .Should().Throw<ArgumentException>().WithMessage(
                "cannot apply --attention_kinds gqx to ModelConfig: field 'attention_kinds' must be a list of raw, mha, gqa, differential (e.g. [\"raw\"]), not [\"gqx\"]. " +
                "Give a list as one word, words separated by commas, or JSON: --attention_kinds mha or --attention_kinds '[\"mha\"]'.");
        FluentActions.Invoking(() => ConfigOverrides.Apply(new ModelConfig(), new Dictionary<string, string> { ["n_layer"] = "six" }, ModelConfig.Json))
            .Should().Throw<ArgumentException>().WithMessage("cannot apply --n_layer six to ModelConfig: field 'n_layer' must be a whole number (e.g. 6), not \"six\".");
    }

    [Fact]
    public void A_config_file_that_is_not_json_names_the_line_and_column_without_parser_internals()
    {
        using var dir = new TempDir();
        var run = RunFolderWith(dir, _ => { });
        var file = dir.File("config.json");
        File.WriteAllText(file, "{\n  \"model\": {\n    \"n_layer\": six\n  }\n}\n");
        FluentActions.Invoking(() => new LMHarness.Runs.RunFolder(run).ReadConfig()).Should().Throw<InvalidDataException>()
            .Which.Message.Should().Contain(file).And.Contain("at line 3, column 16").And.NotContain("LineNumber").And.NotContain("BytePositionInLine").And.NotContain("Path: $");
    }
}

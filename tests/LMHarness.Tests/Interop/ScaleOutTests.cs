using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using LMHarness.Config;
using LMHarness.Interop;
using LMHarness.Model;
using LMHarness.Tests.Data;
using LMHarness.Tests.Scripting;
using LMHarness.Tokenizers;
using static TorchSharp.torch;

namespace LMHarness.Tests.Interop;

/// <summary>
/// The scale-out files: parsed with the parsers the engines use (Python's tomllib for torchtitan, PyYAML's safe_load
/// for accelerate), checked key by key against the config dataclasses of the pinned versions
/// (scaleout_schemas.json, with provenance), Python compiled, every path absolute and existing.
/// </summary>
public class ScaleOutTests
{
    static readonly JsonElement Schemas = JsonDocument.Parse(File.ReadAllText(
        Path.Combine(RepoPaths.Root, "tests/LMHarness.Tests/Interop/scaleout_schemas.json"))).RootElement;

    static ModelConfig Llama(bool tie = true, bool bias = false) => new ModelConfig
    {
        VocabSize = 65, ContextLength = 32, NLayer = 2, DModel = 48, NHead = 4, NKvHead = 2, FfnHidden = 80,
        AttentionKinds = [AttentionKind.Gqa], FeedForwardKinds = [FeedForwardKind.SwiGlu], Position = PositionKind.Rope,
        Norm = NormKind.RmsNorm, Bias = bias, TieEmbeddings = tie,
    }.Validated();

    static (string Export, string Tokens) ExportTo(TempDir dir, ModelConfig config, TokenizerIdentity tokenizer, bool withTokens = true)
    {
        var tokens = withTokens ? DataFixtures.WriteTokenFile(dir.Path, "train", tokenizer, Enumerable.Range(0, 400).Select(i => i % 60).ToList(), 0.1) : null;
        manual_seed(3);
        using var model = new CausalLM(config);
        var export = dir.File("export");
        HfModel.Export(model, export, tokenizer, ScalarType.Float32, tokens);
        return (export, tokens ?? ScaleOutHandoff.TokenFilePlaceholder);
    }

    [Fact]
    public void A_llama_export_gets_torchtitan_and_accelerate_files_that_match_the_pinned_schemas()
    {
        using var dir = new TempDir();
        var (export, tokens) = ExportTo(dir, Llama(), new TokenizerIdentity(TokenizerKind.Char, 65, new string(Enumerable.Range(0, 65).Select(i => (char)(0x100 + i)).ToArray())));
        var scaleout = Path.Combine(export, "scaleout");
        Directory.GetFiles(scaleout).Select(Path.GetFileName).Should().BeEquivalentTo(
            "README.md", "accelerate_fsdp.yaml", "train_fsdp.py", "lmharness_tokens.py", "torchtitan.toml", "lmharness_torchtitan.py");
        foreach (var f in Directory.GetFiles(scaleout)) File.ReadAllText(f).Should().NotContain("@@", f);

        // torchtitan: every section and key exists in torchtitan's JobConfig, with a value of the field's type.
        var toml = Python("import json,sys,tomllib; print(json.dumps(tomllib.load(open(sys.argv[1],'rb'))))", Path.Combine(scaleout, "torchtitan.toml"));
        var titan = Schemas.GetProperty("torchtitan").GetProperty("sections");
        foreach (var section in toml.EnumerateObject())
        {
            titan.TryGetProperty(section.Name, out var fields).Should().BeTrue($"[{section.Name}] is a torchtitan JobConfig section");
            foreach (var key in section.Value.EnumerateObject())
            {
                fields.TryGetProperty(key.Name, out var type).Should().BeTrue($"[{section.Name}] {key.Name} is a field of torchtitan's {section.Name} config");
                Fits(key.Value, type.GetString()!).Should().BeTrue($"[{section.Name}] {key.Name} = {key.Value} is a {type}");
            }
        }
        toml.GetProperty("model").GetProperty("name").GetString().Should().Be("lmharness");
        toml.GetProperty("checkpoint").GetProperty("initial_load_in_hf").GetBoolean().Should().BeTrue();
        toml.GetProperty("experimental").GetProperty("custom_import").GetString().Should().Be("lmharness_torchtitan");
        toml.GetProperty("training").GetProperty("seq_len").GetInt32().Should().Be(32);
        foreach (var path in new[] { toml.GetProperty("model").GetProperty("hf_assets_path"), toml.GetProperty("checkpoint").GetProperty("initial_load_path"), toml.GetProperty("training").GetProperty("dataset_path") })
        {
            Path.IsPathRooted(path.GetString()).Should().BeTrue(path.GetString());
            Path.Exists(path.GetString()).Should().BeTrue(path.GetString());
        }
        toml.GetProperty("training").GetProperty("dataset_path").GetString().Should().Be(Path.GetFullPath(tokens));

        // The flavor: only TransformerModelArgs fields, RoPE scaling off (factor 1.0), torchtitan's FFN formula gives ffn_hidden.
        var module = File.ReadAllText(Path.Combine(scaleout, "lmharness_torchtitan.py"));
        var args = Regex.Match(module, @"ARGS = TransformerModelArgs\((?<body>[\s\S]*?)\n\)").Groups["body"].Value;
        var kwargs = Regex.Matches(args, @"^\s*(\w+)=", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToList();
        var allowed = Schemas.GetProperty("torchtitan_model_args").GetProperty("TransformerModelArgs").EnumerateArray().Select(e => e.GetString()).ToList();
        kwargs.Should().NotBeEmpty().And.OnlyContain(k => allowed.Contains(k));
        args.Should().Contain("rope_scaling_args=RoPEScalingArgs(scaling_factor=1.0)").And.Contain("n_kv_heads=2").And.Contain("dim=48");
        var multipleOf = int.Parse(Regex.Match(args, @"multiple_of=(\d+)").Groups[1].Value);
        var mult = double.Parse(Regex.Match(args, @"ffn_dim_multiplier=([\d.Ee+-]+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        var hidden = (int)(mult * (int)(2.0 * 4 * 48 / 3));
        (multipleOf * ((hidden + multipleOf - 1) / multipleOf)).Should().Be(80);
        module.Should().Contain("KEEP_TOKENIZER = False", "a char tokenizer has no tokenizer.json and the token file needs none");

        // accelerate: top-level keys of ClusterConfig, fsdp_config keys of `accelerate launch --fsdp_*`, no fixed process count.
        var yaml = Python("import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))", Path.Combine(scaleout, "accelerate_fsdp.yaml"));
        var acc = Schemas.GetProperty("accelerate");
        foreach (var key in yaml.EnumerateObject())
        {
            acc.GetProperty("top").TryGetProperty(key.Name, out var type).Should().BeTrue($"{key.Name} is an accelerate ClusterConfig field");
            Fits(key.Value, type.GetString()!).Should().BeTrue($"{key.Name}: {key.Value} is a {type}");
        }
        foreach (var key in yaml.GetProperty("fsdp_config").EnumerateObject())
        {
            acc.GetProperty("fsdp_config").TryGetProperty(key.Name, out var type).Should().BeTrue($"fsdp_config.{key.Name} is an accelerate launch option");
            Fits(key.Value, type.GetString()!).Should().BeTrue($"fsdp_config.{key.Name}: {key.Value} is a {type}");
        }
        yaml.TryGetProperty("num_processes", out _).Should().BeFalse("the GPU count is given at launch, not fixed in the file");
        yaml.GetProperty("fsdp_config").GetProperty("fsdp_transformer_layer_cls_to_wrap").GetString().Should().Be("LlamaDecoderLayer");

        // The training script: the scheduler is stepped by the script once per optimizer step, never prepared by accelerate.
        var train = File.ReadAllText(Path.Combine(scaleout, "train_fsdp.py"));
        train.Should().Contain("acc.prepare(model, opt)").And.NotContain("torch_dtype=").And.Contain("dtype=torch.float32");
        Regex.IsMatch(train, @"prepare\([^)]*sched").Should().BeFalse();
        foreach (var py in Directory.GetFiles(scaleout, "*.py")) Python("import py_compile,sys; py_compile.compile(sys.argv[1], doraise=True); print('{}')", py);

        // The README's commands read only absolute paths that exist (what they write, continued/, comes later).
        var readme = File.ReadAllText(Path.Combine(scaleout, "README.md"));
        var inputs = Regex.Matches(readme, @"(?<=\s|=)/[^\s""'`)]+").Select(m => m.Value).Where(p => !p.EndsWith("/continued")).ToList();
        inputs.Should().Contain(Path.GetFullPath(tokens)).And.Contain(Path.Combine(scaleout, "torchtitan.toml"));
        foreach (var path in inputs) Path.Exists(path).Should().BeTrue($"the README names {path}");
        readme.Should().Contain("torchtitan==" + ScaleOutHandoff.TorchtitanVersion).And.Contain("--num_processes \"$(nvidia-smi -L | wc -l)\"");
    }

    [Fact]
    public void A_tied_llama_export_carries_lm_head_as_a_real_copy_of_the_embedding()
    {
        using var dir = new TempDir();
        var (export, _) = ExportTo(dir, Llama(tie: true), TokenizerIdentity.Bytes);
        using var scope = NewDisposeScope();
        var tensors = Safetensors.Load(Path.Combine(export, HfModel.WeightsFile));
        tensors.Should().ContainKey("lm_head.weight");
        tensors["lm_head.weight"].allclose(tensors["model.embed_tokens.weight"], rtol: 0, atol: 0).Should().BeTrue();
        HfModel.Import(export).Dispose(); // and the harness still reads it back
    }

    [Fact]
    public void Without_a_token_file_the_files_name_a_placeholder_the_readme_explains()
    {
        using var dir = new TempDir();
        var (export, _) = ExportTo(dir, Llama(), TokenizerIdentity.Bytes, withTokens: false);
        File.ReadAllText(Path.Combine(export, "scaleout/torchtitan.toml")).Should().Contain($"dataset_path = \"{ScaleOutHandoff.TokenFilePlaceholder}\"");
        File.ReadAllText(Path.Combine(export, "scaleout/README.md")).Should().Contain($"replace `{ScaleOutHandoff.TokenFilePlaceholder}`");
    }

    [Theory]
    [InlineData(false, "torchtitan has no GPT-2 model")]
    [InlineData(true, "linear biases")]
    public void Models_torchtitan_cannot_continue_get_accelerate_files_and_a_reason(bool llamaWithBias, string reason)
    {
        using var dir = new TempDir();
        var config = llamaWithBias
            ? Llama(bias: true)
            : Llama() with { AttentionKinds = [AttentionKind.Mha], NKvHead = 4, FeedForwardKinds = [FeedForwardKind.Mlp], Position = PositionKind.Learned, Norm = NormKind.LayerNorm, Bias = true };
        var (export, _) = ExportTo(dir, config.Validated(), TokenizerIdentity.Bytes);
        var scaleout = Path.Combine(export, "scaleout");
        File.Exists(Path.Combine(scaleout, "torchtitan.toml")).Should().BeFalse();
        File.Exists(Path.Combine(scaleout, "accelerate_fsdp.yaml")).Should().BeTrue();
        File.ReadAllText(Path.Combine(scaleout, "README.md")).Should().Contain(reason);
    }

    [Fact]
    public void A_template_placeholder_without_a_value_is_an_error_naming_it() =>
        FluentActions.Invoking(() => ScaleOutHandoff.Template("accelerate_fsdp.yaml", new Dictionary<string, string>()))
            .Should().Throw<KeyNotFoundException>().WithMessage("*accelerate_fsdp.yaml uses @@layer_class@@*");

    /// <summary>Whether a parsed value has the schema type: str, int, float, bool, list, table, "a|b" (one of), "?" suffix = may be null.</summary>
    static bool Fits(JsonElement v, string type)
    {
        if (type.EndsWith('?')) { if (v.ValueKind == JsonValueKind.Null) return true; type = type[..^1]; }
        return type switch
        {
            "str" => v.ValueKind == JsonValueKind.String,
            "int" => v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out _),
            "float" => v.ValueKind == JsonValueKind.Number,
            "bool" => v.ValueKind is JsonValueKind.True or JsonValueKind.False,
            "list" => v.ValueKind == JsonValueKind.Array,
            "table" => v.ValueKind == JsonValueKind.Object,
            _ => v.ValueKind == JsonValueKind.String && type.Split('|').Contains(v.GetString()),
        };
    }

    /// <summary>Runs a Python one-liner on <paramref name="file"/> and parses what it prints as JSON.</summary>
    static JsonElement Python(string code, string file)
    {
        var psi = new ProcessStartInfo("python3", ["-c", code, file]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEnd();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        p.ExitCode.Should().Be(0, $"python3 parses {file} (needs Python >= 3.11 for tomllib, and PyYAML): {stderr}");
        return JsonDocument.Parse(stdout).RootElement;
    }
}

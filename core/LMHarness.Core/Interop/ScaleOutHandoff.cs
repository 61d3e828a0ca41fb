using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using LMHarness.Config;
using LMHarness.IO;

namespace LMHarness.Interop;

/// <summary>
/// TorchSharp has no distributed training, so a recipe that outgrows one machine continues on an existing engine
/// from the HF export. This writes, into <c>scaleout/</c> next to the export, what those engines need for the
/// model's shape, with absolute paths so the commands run from any folder:
/// <list type="bullet">
/// <item>Hugging Face accelerate + FSDP (Llama and GPT-2): <c>accelerate_fsdp.yaml</c> (wrapping each
/// LlamaDecoderLayer / GPT2Block) and <c>train_fsdp.py</c>, which trains on a harness token file and steps its LR
/// schedule once per optimizer step.</item>
/// <item>torchtitan <see cref="TorchtitanVersion"/> (Llama without biases): <c>torchtitan.toml</c> and
/// <c>lmharness_torchtitan.py</c>, imported by torchtitan through <c>[experimental] custom_import</c>, which maps
/// model "lmharness" to torchtitan's llama3 with this model's flavor (RoPE scaling factor 1.0; FFN width via
/// multiple_of = ffn_hidden and ffn_dim_multiplier = min(1, ffn_hidden / floor(8 d / 3)), since torchtitan builds
/// multiple_of * ceil(ffn_dim_multiplier * floor(8 d / 3) / multiple_of)) and the token file as its data.</item>
/// <item><c>lmharness_tokens.py</c>, the token-file reader both use, and a README with the commands.</item>
/// </list>
/// The texts are embedded resources (Interop/ScaleOut/*) with <c>@@name@@</c> placeholders.
/// </summary>
public static class ScaleOutHandoff
{
    public const string Folder = "scaleout";

    /// <summary>The torchtitan release the TOML keys and the extension module are written for.</summary>
    public const string TorchtitanVersion = "0.2.1";

    /// <summary>Shown where the token file is not known; train_fsdp.py and the torchtitan loader refuse it by name.</summary>
    public const string TokenFilePlaceholder = "/absolute/path/to/train.bin";

    /// <summary>torchtitan's (multiple_of, ffn_dim_multiplier) that make its Llama FFN exactly <paramref name="ffnHidden"/> wide.</summary>
    public static (int MultipleOf, double FfnDimMultiplier) TorchtitanFfn(int dModel, int ffnHidden)
    {
        int h0 = (int)(2.0 * 4 * dModel / 3);
        return (ffnHidden, Math.Min(1.0, (double)ffnHidden / h0));
    }

    /// <summary>
    /// Writes the scale-out files for <paramref name="config"/> into <c>dir/scaleout</c> and returns their paths.
    /// <paramref name="tokenFile"/> is the harness token file to train on (the run's, when known); without one the
    /// files name <see cref="TokenFilePlaceholder"/> and the README says to replace it.
    /// </summary>
    public static IReadOnlyList<string> Write(string dir, ModelConfig config, HfArchitecture arch, string? tokenFile = null)
    {
        var export = Path.GetFullPath(dir);
        var outDir = Path.Combine(export, Folder);
        Directory.CreateDirectory(outDir);
        var written = new List<string>();
        void Put(string name, string text) { var p = Path.Combine(outDir, name); AtomicFile.WriteAllText(p, text); written.Add(p); }

        var tokens = tokenFile is null ? TokenFilePlaceholder : Path.GetFullPath(tokenFile);
        var values = new Dictionary<string, string>
        {
            ["export_dir"] = export,
            ["scaleout_dir"] = outDir,
            ["token_file"] = tokens,
            ["token_file_line"] = tokenFile is null
                ? $"the export does not record the run's token file: replace `{TokenFilePlaceholder}` below (and in torchtitan.toml) with the `.bin` it was trained on."
                : $"`{tokens}` (the run's token file).",
            ["hf_class"] = arch == HfArchitecture.Llama ? "LlamaForCausalLM" : "GPT2LMHeadModel",
            ["n_layers"] = I(config.NLayer),
            ["dim"] = I(config.DModel),
            ["n_heads"] = I(config.NHead),
            ["seq_len"] = I(config.ContextLength),
            ["vocab_size"] = I(config.VocabSize),
            ["layer_class"] = arch == HfArchitecture.Llama ? "LlamaDecoderLayer" : "GPT2Block",
            ["torchtitan_version"] = TorchtitanVersion,
        };

        Put("lmharness_tokens.py", Template("lmharness_tokens.py", values));
        Put("train_fsdp.py", Template("train_fsdp.py", values));
        Put("accelerate_fsdp.yaml", Template("accelerate_fsdp.yaml", values));

        var refusal = TorchtitanRefusal(config, arch);
        if (refusal is null)
        {
            var (multipleOf, mult) = TorchtitanFfn(config.DModel, config.FfnHidden);
            var hasTokenizer = File.Exists(Path.Combine(export, "tokenizer.json"))
                || (File.Exists(Path.Combine(export, "vocab.json")) && File.Exists(Path.Combine(export, "merges.txt")));
            values["ffn_hidden"] = I(config.FfnHidden);
            values["n_kv_heads"] = I(config.AttentionKinds[0] == AttentionKind.Gqa ? config.NKvHead : config.NHead);
            values["multiple_of"] = I(multipleOf);
            values["ffn_dim_multiplier"] = F(mult);
            values["norm_eps"] = F(config.NormEps);
            values["rope_theta"] = F(config.RopeTheta);
            values["max_seq_len"] = I(config.ContextLength);
            values["keep_tokenizer"] = hasTokenizer ? "True" : "False";
            values["tokenizer_note"] = hasTokenizer
                ? "torchtitan loads the export's own tokenizer files (hf_assets_path); training reads token ids from the token file."
                : "this export has no tokenizer.json (char, byte and tiktoken tokenizers are not HF files), and none is needed: the token file holds token ids already, so the tokenizer is left out.";
            values["dump_folder"] = Path.Combine(export, "torchtitan_outputs");
            values["toml_path"] = Path.Combine(outDir, "torchtitan.toml");
            Put("lmharness_torchtitan.py", Template("lmharness_torchtitan.py", values));
            Put("torchtitan.toml", Template("torchtitan.toml", values));
            values["torchtitan_section"] = Template("README.torchtitan.md", values);
        }
        else
        {
            values["torchtitan_section"] = $"## torchtitan\n\nNot written: {refusal}\n";
        }
        Put("README.md", Template("README.md", values));
        return written;
    }

    /// <summary>Why torchtitan's Llama cannot continue this model, or null when it can.</summary>
    public static string? TorchtitanRefusal(ModelConfig config, HfArchitecture arch) =>
        arch != HfArchitecture.Llama
            ? "torchtitan has no GPT-2 model; continue with accelerate (above)."
            : config.Bias
                ? "this model has linear biases and torchtitan's Llama has none; continue with accelerate (above)."
                : null;

    /// <summary>The embedded text <paramref name="name"/> with every <c>@@key@@</c> replaced; a placeholder without a value is an error.</summary>
    internal static string Template(string name, IReadOnlyDictionary<string, string> values)
    {
        var resource = "scaleout/" + name; // the csproj names the embedded texts scaleout/FILE
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The scale-out template {resource} is not embedded in the core assembly (see its csproj's EmbeddedResource items).");
        var text = new StreamReader(stream).ReadToEnd();
        return Regex.Replace(text, "@@([a-z_]+)@@", m => values.TryGetValue(m.Groups[1].Value, out var v)
            ? v
            : throw new KeyNotFoundException($"The scale-out template {name} uses @@{m.Groups[1].Value}@@, which has no value."));
    }

    static string I(int x) => x.ToString(CultureInfo.InvariantCulture);
    static string F(double x) => x.ToString("R", CultureInfo.InvariantCulture);
}

using System.Text.Json;
using System.Text.Json.Nodes;
using LMHarness.Config;
using LMHarness.IO;
using LMHarness.Model;
using LMHarness.Runs;
using LMHarness.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Interop;

/// <summary>
/// A Hugging Face checkpoint folder: <c>model.safetensors</c> (HF tensor names, see <see cref="HfTensorLayout"/>) and
/// <c>config.json</c> (<see cref="HfConfig"/>), loadable with <c>AutoModelForCausalLM.from_pretrained(folder)</c>.
/// The export also writes <c>lmharness_model_config.json</c> (the exact harness config), <c>lmharness_tokenizer.json</c>
/// (the <see cref="TokenizerIdentity"/> the ids mean; an HF tokenizer's tokenizer.json is copied too) and the scale-out configs of <see cref="ScaleOutHandoff"/>.
/// Import reads any Llama- or GPT-2-family folder (e.g. SmolLM, TinyLlama, GPT-2 safetensors) into a
/// <see cref="CausalLM"/> to sample from or to continue training.
/// </summary>
public static class HfModel
{
    public const string WeightsFile = "model.safetensors";
    public const string ConfigFile = "config.json";
    public const string HarnessConfigFile = "lmharness_model_config.json";
    public const string TokenizerFile = "lmharness_tokenizer.json";

    /// <summary>Exports <paramref name="model"/> in float32; <paramref name="tokenizer"/> may be null when unknown.</summary>
    public static HfArchitecture Export(CausalLM model, string dir, TokenizerIdentity? tokenizer) =>
        Export(model, dir, tokenizer, ScalarType.Float32);

    /// <summary>
    /// Exports <paramref name="model"/> as an HF checkpoint with tensors in <paramref name="dtype"/> (float32, bfloat16
    /// or float16). Throws <see cref="NotSupportedException"/> before writing anything when no HF architecture
    /// expresses the model (use <see cref="HarnessExport.Save(CausalLM, string, TokenizerIdentity)"/> then).
    /// </summary>
    public static HfArchitecture Export(CausalLM model, string dir, TokenizerIdentity? tokenizer, ScalarType dtype) =>
        Export(model, dir, tokenizer, dtype, tokenFile: null);

    /// <summary>
    /// As <see cref="Export(CausalLM, string, TokenizerIdentity?, ScalarType)"/>; <paramref name="tokenFile"/> (the run's token
    /// file, when known) is what the scale-out files train on. A tied Llama also gets <c>lm_head.weight</c> as a real
    /// copy of the embedding: transformers ties it either way, but torchtitan's HF loader reads the key.
    /// </summary>
    public static HfArchitecture Export(CausalLM model, string dir, TokenizerIdentity? tokenizer, ScalarType dtype, string? tokenFile)
    {
        var config = model.Config;
        var arch = HfArchitectures.Choose(config);
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16))
            throw new ArgumentException($"export dtype must be float32, bfloat16 or float16 (got {dtype})");
        // eos/bos for config.json; a char table's end-of-text depends on its corpus, so none is claimed for it.
        int eot = tokenizer is null || tokenizer.Kind == TokenizerKind.Char ? -1 : LMHarness.Tokenizers.TokenizerFactory.Create(tokenizer).EndOfText;
        using var scope = torch.NewDisposeScope();
        var state = ModelWeights.Snapshot(model);
        var tensors = HfTensorLayout.ToHf(config, arch, state).Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.to(dtype).contiguous())).ToList();
        if (arch == HfArchitecture.Llama && config.TieEmbeddings && tensors.All(kv => kv.Key != "lm_head.weight"))
            tensors.Add(new("lm_head.weight", tensors.Single(kv => kv.Key == "model.embed_tokens.weight").Value.clone()));
        Directory.CreateDirectory(dir);
        Safetensors.Save(Path.Combine(dir, WeightsFile), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        AtomicFile.WriteAllText(Path.Combine(dir, ConfigFile), HfConfig.ToJson(config, arch, dtype, eot).ToJsonString(new() { WriteIndented = true }));
        AtomicFile.WriteAllText(Path.Combine(dir, HarnessConfigFile), config.ToJson());
        if (tokenizer is not null) AtomicFile.WriteAllText(Path.Combine(dir, TokenizerFile), HfBpeTokenizer.CopyFiles(tokenizer, dir).ToJson());
        ScaleOutHandoff.Write(dir, config, arch, tokenFile);
        return arch;
    }

    /// <summary>The harness config and notes for an HF folder, without loading weights.</summary>
    public static (ModelConfig Config, HfArchitecture Arch, IReadOnlyList<string> Notes) ReadConfig(string dir)
    {
        var configPath = Path.Combine(dir, ConfigFile);
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"checkpoint folder not found: {dir}");
        // A run folder has a config.json too (the run's configs, not an HF one): ModelSource loads run folders.
        if (Directory.Exists(Path.Combine(dir, RunFolder.CheckpointsFolder)) || IsRunConfig(configPath))
            throw new InvalidDataException($"{dir} is an LMHarness run folder, not an HF checkpoint: sample from it with `dotnet script scripts/sample.csx -- {dir}`, or turn it into an HF checkpoint with `dotnet script scripts/export.csx -- {dir} --out DIR`.");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{dir} has no {ConfigFile}: an HF checkpoint folder needs config.json next to model.safetensors", configPath);
        return HfConfig.FromJson(File.ReadAllText(configPath), configPath);
    }

    static bool IsRunConfig(string configPath)
    {
        try { return File.Exists(configPath) && JsonNode.Parse(File.ReadAllText(configPath)) is JsonObject o && o["model"] is JsonObject && o["training"] is JsonObject; }
        catch (JsonException) { return false; } // HfConfig reports bad JSON
    }

    /// <summary>Loads an HF Llama- or GPT-2-family folder into a new float32 CPU <see cref="CausalLM"/> (move it with .to(device)).</summary>
    public static CausalLM Import(string dir) => ImportWithNotes(dir).Model;

    /// <summary>
    /// Loads an HF folder and returns notes on anything approximated (e.g. tanh GELU run as exact GELU). Before anything
    /// is built, config.json's model is checked against model.safetensors' header, tensor by tensor, and against the
    /// memory this process may take (<see cref="WeightsFit"/>): a config that disagrees is refused naming both files.
    /// </summary>
    public static (CausalLM Model, IReadOnlyList<string> Notes) ImportWithNotes(string dir)
    {
        var (config, arch, notes) = ReadConfig(dir);
        var weights = Path.Combine(dir, WeightsFile);
        if (!File.Exists(weights))
        {
            var sharded = Directory.GetFiles(dir, "model-*-of-*.safetensors");
            throw new FileNotFoundException(sharded.Length > 0
                ? $"{dir} holds a sharded checkpoint ({sharded.Length} files); merge the shards into one model.safetensors first (the importer reads single-file checkpoints)"
                : $"{dir} has no {WeightsFile}: download the safetensors weights (pytorch_model.bin is not read)", weights);
        }
        // The config decides what is built: check it against the weights' header (and the memory) before building.
        var header = Safetensors.ReadHeader(weights);
        WeightsFit.Check(config, HfTensorLayout.Expected(config, arch), header.Declared(name => HfTensorLayout.Canonical(name, arch)),
            weights, Path.Combine(dir, ConfigFile),
            $"fix {ConfigFile}, or download (or export) the folder again so that {ConfigFile} and {WeightsFile} come from one model",
            MachineMemory.Available(), name => HfTensorLayout.Skipped(name, config, arch));
        // Built outside the dispose scope: the scope would free the new model's parameters with the loaded tensors.
        var model = new CausalLM(config);
        using (var scope = torch.NewDisposeScope())
        {
            var hf = Safetensors.Load(weights);
            ModelWeights.Load(model, HfTensorLayout.FromHf(config, arch, hf), weights);
        }
        return (model, notes);
    }

    /// <summary>
    /// The tokenizer identity stored next to an export; else the folder's own HF tokenizer (tokenizer.json, or
    /// vocab.json + merges.txt, as in a downloaded SmolLM/GPT-2 folder, see <see cref="HfBpeTokenizer"/>); else null.
    /// </summary>
    public static TokenizerIdentity? ReadTokenizer(string dir)
    {
        var path = Path.Combine(dir, TokenizerFile);
        if (File.Exists(path)) return TokenizerIdentity.FromJson(File.ReadAllText(path));
        return HfBpeTokenizer.HasTokenizer(dir) ? HfBpeTokenizer.Load(dir).Identity : null;
    }
}

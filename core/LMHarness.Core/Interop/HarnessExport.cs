using LMHarness.Config;
using LMHarness.Model;
using LMHarness.Tokenizers;
using TorchSharp;
using LMHarness.IO;

namespace LMHarness.Interop;

/// <summary>
/// The harness's own portable checkpoint: <c>model.safetensors</c> with the harness state-dict names (metadata
/// <c>format = lmharness</c>) plus <c>lmharness_model_config.json</c> and <c>lmharness_tokenizer.json</c>. It holds
/// every block the harness can build (differential attention, NoPE, mixed layers, YaRN), which is what a model HF
/// cannot express is saved as. Any safetensors reader (Python included) can read the tensors.
/// </summary>
public static class HarnessExport
{
    public const string Format = "lmharness";

    /// <summary>Saves weights, config and (when not null) tokenizer identity into <paramref name="dir"/> (an HF tokenizer's files are copied beside them).</summary>
    public static void Save(CausalLM model, string dir, TokenizerIdentity? tokenizer)
    {
        using var scope = torch.NewDisposeScope();
        Directory.CreateDirectory(dir);
        Safetensors.Save(Path.Combine(dir, HfModel.WeightsFile), ModelWeights.Snapshot(model),
            new Dictionary<string, string> { ["format"] = Format });
        AtomicFile.WriteAllText(Path.Combine(dir, HfModel.HarnessConfigFile), model.Config.ToJson());
        if (tokenizer is not null) AtomicFile.WriteAllText(Path.Combine(dir, HfModel.TokenizerFile), HfBpeTokenizer.CopyFiles(tokenizer, dir).ToJson());
    }

    /// <summary>True when <paramref name="dir"/> holds a native checkpoint (harness config, no HF config.json).</summary>
    public static bool IsNative(string dir) =>
        File.Exists(Path.Combine(dir, HfModel.HarnessConfigFile)) && !File.Exists(Path.Combine(dir, HfModel.ConfigFile));

    /// <summary>
    /// Loads a native checkpoint into a new float32 CPU model, after checking its config against the weights' header
    /// and the memory this process may take (<see cref="WeightsFit"/>), before anything is built.
    /// </summary>
    public static CausalLM Load(string dir)
    {
        var configPath = Path.Combine(dir, HfModel.HarnessConfigFile);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{dir} has no {HfModel.HarnessConfigFile}: not a harness checkpoint folder", configPath);
        var config = ModelConfig.FromJson(File.ReadAllText(configPath), configPath);
        var weights = Path.Combine(dir, HfModel.WeightsFile);
        var header = Safetensors.ReadHeader(weights);
        if (header.Metadata.TryGetValue("format", out var f) && f != Format)
            throw new InvalidDataException($"{weights} is in '{f}' format, not the harness's: load it with HfModel.Import");
        WeightsFit.Check(config, ParameterShapes.Of(config), header.Declared(), weights, configPath,
            $"fix {HfModel.HarnessConfigFile}, or export the folder again so that it and {HfModel.WeightsFile} come from one model",
            MachineMemory.Available());
        var model = new CausalLM(config);   // outside the scope, which frees only the loaded tensors
        using (var scope = torch.NewDisposeScope())
            ModelWeights.Load(model, Safetensors.Load(weights), weights);
        return model;
    }

    /// <summary>Loads any exported folder: an HF checkpoint (config.json) or a native one.</summary>
    public static CausalLM LoadAny(string dir) => IsNative(dir) ? Load(dir) : HfModel.Import(dir);
}

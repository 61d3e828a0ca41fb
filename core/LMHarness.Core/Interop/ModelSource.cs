using LMHarness.Model;
using LMHarness.Runs;
using LMHarness.Tokenizers;
using LMHarness.Training.Checkpoints;

namespace LMHarness.Interop;

/// <summary>A loaded model, the tokenizer its ids mean (null when the source does not say), and where it came from.</summary>
public sealed record LoadedModel(CausalLM Model, TokenizerIdentity? Tokenizer, string Description);

/// <summary>
/// Loads a model from whatever a user points at: a run folder (<c>runs/exp/variant/seed0</c>, newest checkpoint in
/// <c>checkpoints/</c>), a training checkpoint file (<c>step_NNNNNNN.ckpt</c>), an HF checkpoint folder
/// (<c>config.json</c> + <c>model.safetensors</c>) or a native harness export. One entry point for every script.
/// Every path checks the model's config against the weights' headers and the memory this process may take before it
/// builds the model (<see cref="LMHarness.Model.WeightsFit"/>): a config that disagrees with its weights is refused, never built.
/// </summary>
public static class ModelSource
{
    public static LoadedModel Load(string path)
    {
        if (File.Exists(path) && path.EndsWith(".ckpt", StringComparison.Ordinal)) return FromCheckpoint(path);
        if (!Directory.Exists(path))
            throw new FileNotFoundException($"no model at {path}: give a run folder, a checkpoints/step_*.ckpt file, an HF checkpoint folder or a harness export folder", path);
        var run = new RunFolder(path);
        if (Directory.Exists(run.CheckpointsPath))
        {
            var latest = run.LatestCheckpoint
                ?? throw new FileNotFoundException($"{run.CheckpointsPath} holds no complete checkpoint yet: train longer or point at another run", run.CheckpointsPath);
            try { return FromCheckpoint(latest); }
            catch (InvalidDataException e) when (Checkpoint.IsDamage(e)
                && run.Checkpoints.Where(p => p != latest).Reverse().FirstOrDefault(Checkpoint.IsIntact) is { } previous)
            {
                throw new InvalidDataException($"{e.Message} The previous checkpoint {previous} is intact: pass that path to use it.", e);
            }
        }
        if (File.Exists(Path.Combine(path, HfModel.ConfigFile)))
            return new LoadedModel(HfModel.Import(path), HfModel.ReadTokenizer(path), $"HF checkpoint {path}");
        if (HarnessExport.IsNative(path))
            return new LoadedModel(HarnessExport.Load(path), HfModel.ReadTokenizer(path), $"harness export {path}");
        throw new FileNotFoundException($"{path} is neither a run folder (checkpoints/), an HF checkpoint (config.json) nor a harness export ({HfModel.HarnessConfigFile})", path);
    }

    static LoadedModel FromCheckpoint(string file)
    {
        var state = Checkpoint.ReadState(file);
        Checkpoint.CheckFits(file, state.Model, "its own state section",
            "its state and its tensors disagree, so it was not written as it is by LMHarness: use another checkpoint of the run");
        var model = new CausalLM(state.Model);
        Checkpoint.LoadModel(file, model);
        var tok = state.Tokenizer is null ? null : TokenizerIdentity.FromJson(state.Tokenizer.ToJsonString());
        return new LoadedModel(model, tok, $"{file} (step {state.Step}, {state.TokensSeen:N0} tokens)");
    }

    /// <summary>The tokenizer for a loaded model: its own identity, else the one named (gpt2, bytes, ...), else an error saying what to pass.</summary>
    public static ITokenizer TokenizerFor(LoadedModel loaded, string? name)
    {
        var tokenizer = loaded.Tokenizer is { } id ? LMHarness.Tokenizers.TokenizerFactory.Create(id)
            : name is { Length: > 0 } ? LMHarness.Tokenizers.TokenizerFactory.ByName(name)
            : throw new ArgumentException($"{loaded.Description} does not record its tokenizer: pass one by name (--tokenizer gpt2 | cl100k_base | o200k_base | bytes | an HF folder with tokenizer.json)");
        // Ids past the embedding table would crash mid-sampling; a bigger vocab means the wrong tokenizer.
        if (tokenizer.VocabSize > loaded.Model.Config.VocabSize)
            throw new InvalidDataException($"tokenizer {tokenizer.Identity} has {tokenizer.VocabSize} ids but {loaded.Description} embeds only {loaded.Model.Config.VocabSize}: use the tokenizer the model was trained with");
        return tokenizer;
    }
}

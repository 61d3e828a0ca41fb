using System.Text.Json.Nodes;
using LMHarness.Config;
using LMHarness.Data;
using LMHarness.Model;
using LMHarness.Training;
using LMHarness.Training.Checkpoints;
using TorchSharp;

namespace LMHarness.Experiments;

/// <summary>
/// Re-evaluates a finished run: its newest checkpoint on the validation split at any context length, e.g. twice the
/// trained one to see how positional schemes extrapolate (Press et al. 2022, "Train Short, Test Long").
/// </summary>
public static class Evaluation
{
    /// <summary>
    /// Mean next-token cross-entropy (nats/token) of the run's newest checkpoint over the first <paramref name="batches"/>
    /// validation batches of windows of <paramref name="contextLength"/> tokens. The model's context_length (its position
    /// table for learned positions) must cover the windows.
    /// </summary>
    public static double ValLoss(string runFolder, int contextLength, int batches)
    {
        var configPath = Path.Combine(runFolder, "config.json");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{runFolder} has no config.json: pass a run folder written by training.", configPath);
        var doc = JsonNode.Parse(File.ReadAllText(configPath))!;
        var model = ModelConfig.FromJson(doc["model"]!.ToJsonString());
        var training = TrainingConfig.FromJson(doc["training"]!.ToJsonString());
        var tokenFile = doc["data"]?["token_file"]?.GetValue<string>()
            ?? throw new InvalidDataException($"{configPath} does not record data.token_file.");
        if (contextLength > model.ContextLength)
            throw new ArgumentException($"cannot evaluate at {contextLength} tokens: the model of {runFolder} was built for context_length {model.ContextLength}. Build it with a larger context_length (training may use a shorter one).");
        var checkpoint = Checkpoint.Latest(Path.Combine(runFolder, "checkpoints"))
            ?? throw new FileNotFoundException($"{runFolder} has no checkpoint: train with checkpoints on (the final one is always written).");

        using var lm = new CausalLM(model);
        Checkpoint.LoadModel(checkpoint, lm);
        lm.eval();
        using var file = TokenFile.Open(tokenFile, checkIds: false);
        double sum = 0;
        int n = 0;
        using (torch.no_grad())
            foreach (var (x, y) in new ValidationBatches(file, training.MicroBatch, contextLength, batches))
            {
                using var scope = torch.NewDisposeScope();
                sum += lm.Loss(x, y).item<float>();
                n++;
            }
        if (n == 0) throw new InvalidDataException($"{tokenFile} has too few validation tokens for one window of {contextLength}.");
        return sum / n;
    }
}

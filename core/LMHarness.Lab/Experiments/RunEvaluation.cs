using LMHarness.Config;
using LMHarness.Data;
using LMHarness.Model;
using LMHarness.Runs;
using LMHarness.Training;
using LMHarness.Training.Checkpoints;
using TorchSharp;

namespace LMHarness.Experiments;

/// <summary>
/// Re-evaluates a finished run: its newest checkpoint on the validation split at any context length, e.g. twice the
/// trained one to see how positional schemes extrapolate (Press et al. 2022, "Train Short, Test Long").
/// </summary>
public static class RunEvaluation
{
    /// <summary>
    /// Mean next-token cross-entropy (nats/token) of the run's newest checkpoint over the first <paramref name="batches"/>
    /// validation batches of windows of <paramref name="contextLength"/> tokens. The model's context_length (its position
    /// table for learned positions) must cover the windows.
    /// </summary>
    public static double ValLoss(string runFolder, int contextLength, int batches)
    {
        var run = new RunFolder(runFolder);
        var config = run.ReadConfig();
        var tokenFile = config.TokenFile ?? throw new InvalidDataException($"{run.File(RunFolder.ConfigFile)} does not record data.token_file.");
        if (contextLength > config.Model.ContextLength)
            throw new ArgumentException($"cannot evaluate at {contextLength} tokens: the model of {runFolder} was built for context_length {config.Model.ContextLength}. Build it with a larger context_length (training may use a shorter one).");
        var checkpoint = run.LatestCheckpoint
            ?? throw new FileNotFoundException($"{runFolder} has no checkpoint: train with checkpoints on (the final one is always written).");

        // The run's config.json decides what is built: check it against the checkpoint first.
        Checkpoint.CheckFits(checkpoint, config.Model, run.File(RunFolder.ConfigFile),
            $"restore the \"model\" section of {run.File(RunFolder.ConfigFile)} to the model the run trained");
        using var lm = new CausalLM(config.Model);
        Checkpoint.LoadModel(checkpoint, lm);
        lm.eval();
        using var file = TokenFile.Open(tokenFile, checkIds: false);
        double sum = 0;
        int n = 0;
        using (torch.no_grad())
            foreach (var (x, y) in new ValidationBatches(file, config.Training.MicroBatch, contextLength, batches))
            {
                using var scope = torch.NewDisposeScope();
                sum += lm.Loss(x, y).item<float>();
                n++;
            }
        if (n == 0) throw new InvalidDataException($"{tokenFile} has too few validation tokens for one window of {contextLength}.");
        return sum / n;
    }
}

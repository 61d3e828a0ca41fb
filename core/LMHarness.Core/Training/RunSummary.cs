using System.Text.Json;
using LMHarness.Config;

namespace LMHarness.Training;

/// <summary>
/// What a finished (or interrupted) run reports, also written to the run folder as summary.json.
/// FinalTrainLoss is the last step's batch; FinalTrainEvalLoss the train-split estimate of the last evaluation.
/// Perplexity = exp(validation loss). Tokens/s and ms/step are over this process's steps only.
/// </summary>
public sealed record RunSummary(
    string RunDir, long Steps, long Tokens, double FinalTrainLoss, double? FinalValLoss, double? FinalTrainEvalLoss, double? BestValLoss,
    double WallSeconds, double TokensPerSecond, double MsPerStep, long Parameters, double PeakRssMb, bool Interrupted)
{
    public double? FinalValPerplexity => FinalValLoss is { } v ? Math.Exp(v) : null;

    public string ToJson() => JsonSerializer.Serialize(this, ModelConfig.Json);

    public override string ToString() =>
        $"{Steps} steps, {Tokens:N0} tokens, train {FinalTrainLoss:F4}, val {FinalValLoss:F4} (best {BestValLoss:F4}, train estimate {FinalTrainEvalLoss:F4}), " +
        $"{WallSeconds:F1} s, {MsPerStep:F1} ms/step, {TokensPerSecond:N0} tok/s, {Parameters:N0} params, peak RSS {PeakRssMb:F0} MB" +
        (Interrupted ? " (interrupted: resume with Trainer.Resume)" : "");
}

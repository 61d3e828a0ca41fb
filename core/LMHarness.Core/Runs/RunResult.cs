using System.Globalization;
using System.Text.Json;
using LMHarness.Config;

namespace LMHarness.Runs;

/// <summary>
/// What a run reports when it stops (finished or interrupted), also written to its folder as result.json.
/// FinalTrainLoss is the last step's batch (null when this process ran no step); FinalTrainEvalLoss the train-split
/// estimate of the last evaluation; FinalValBpb the last validation loss in bits per byte. ElapsedSeconds is wall
/// time since the run started, summed over resumes; TrainSeconds and EvalSeconds the parts spent in training steps
/// and in evaluation. TokensPerSecond and MsPerStep are over this process's steps, per second of training time.
/// PeakRssMb is the kernel's high-water mark of resident memory (VmHWM), the largest over the run's processes when it
/// was resumed; PeakGpuMb the largest device memory the driver reported for the process (NVML, what the caching
/// allocator holds, sampled at log steps), null without a GPU. PlannedMemory is what the run was planned to need (the
/// device's memory on a GPU, resident memory on the CPU), printed beside the peak.
/// </summary>
public sealed record RunResult(
    string RunDir, long Steps, long TotalSteps, long Tokens, double? FinalTrainLoss, double? FinalValLoss, double? FinalTrainEvalLoss,
    double? BestValLoss, double? FinalValBpb, double ElapsedSeconds, double TrainSeconds, double EvalSeconds, double TokensPerSecond,
    double MsPerStep, long Parameters, double PeakRssMb, bool Interrupted, double? PeakGpuMb = null, PlannedMemory? PlannedMemory = null)
{
    /// <summary>exp(validation loss): the effective number of equally likely next tokens.</summary>
    public double? FinalValPerplexity => FinalValLoss is { } v ? Math.Exp(v) : null;

    /// <summary>The run took every step it planned and was not stopped.</summary>
    public bool Complete => !Interrupted && Steps >= TotalSteps;

    public string ToJson() => JsonSerializer.Serialize(this, ModelConfig.Json);

    /// <summary>Reads result.json; throws naming the file when it is not one.</summary>
    public static RunResult FromJson(string json, string path)
    {
        try
        {
            return JsonSerializer.Deserialize<RunResult>(json, ModelConfig.Json)
                ?? throw new InvalidDataException($"{path} is empty (null): delete it; the run's checkpoint still holds its state.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not a run result ({JsonErrors.Describe(e)}): delete it; the run's checkpoint still holds its state.", e);
        }
    }

    static string F(double? v, string format = "F4") => v is { } x ? x.ToString(format, CultureInfo.InvariantCulture) : "-";

    public override string ToString() =>
        $"{Steps} steps, {Tokens:N0} tokens, train {F(FinalTrainLoss)}, val {F(FinalValLoss)} (best {F(BestValLoss)}, train estimate {F(FinalTrainEvalLoss)}" +
        $"{(FinalValBpb is { } b ? $", {b:F4} bits/byte" : "")}), {ElapsedSeconds:F1} s ({TrainSeconds:F1} s training, {EvalSeconds:F1} s evaluating), " +
        $"{MsPerStep:F1} ms/step, {TokensPerSecond:N0} tok/s, {Parameters:N0} params, peak RSS {PeakRssMb:F0} MB" +
        (PeakGpuMb is { } gpu ? $", peak GPU {gpu:F0} MB" : "") + Planned() +
        (Interrupted ? " (interrupted: run it again to resume)" : "") +
        (PlannedMemory is { } plan ? Environment.NewLine + "memory " + plan.Arithmetic : "");

    /// <summary>", planned N MB (measured 1.12x)" against the peak the plan is for: the device's on a GPU, else resident memory.</summary>
    string Planned()
    {
        if (PlannedMemory is not { } plan) return "";
        var measured = plan.Gpu ? PeakGpuMb : PeakRssMb;
        return string.Create(CultureInfo.InvariantCulture, $", planned {plan.PeakMb:F0} MB") +
               (measured is { } m && plan.PeakMb > 0 ? string.Create(CultureInfo.InvariantCulture, $" (measured {m / plan.PeakMb:F2}x)") : "");
    }
}

using LMHarness.Config;
namespace LMHarness.Training.Schedules;

/// <summary>
/// The learning rate as a pure function of the optimizer step (0-based), so resuming at step k needs only k.
/// Warm-up (all kinds): lr * (step + 1) / (warmup + 1) for step &lt; warmup (nanoGPT's convention). After it, with
/// progress p = (step - warmup) / (total - warmup) clamped to [0, 1]:
/// cosine: min + (lr - min) * (1 + cos(pi p)) / 2 (Loshchilov and Hutter 2017);
/// linear: lr + (min - lr) p; constant: lr;
/// warmup-stable-decay: lr until the last decay_fraction of the run, then linear to min (Hu et al. 2024, MiniCPM).
/// </summary>
public sealed record LearningRateSchedule(ScheduleKind Kind, double PeakLr, double MinLr, int WarmupSteps, int TotalSteps, double DecayFraction)
{
    public static LearningRateSchedule For(TrainingConfig c) =>
        new(c.Schedule, c.LearningRate, c.MinLearningRate, c.WarmupSteps, c.TotalSteps, c.DecayFraction);

    /// <summary>Learning rate for optimizer step <paramref name="step"/> (0-based).</summary>
    public double At(long step)
    {
        if (step < WarmupSteps) return PeakLr * (step + 1) / (WarmupSteps + 1);
        switch (Kind)
        {
            case ScheduleKind.Constant:
                return PeakLr;
            case ScheduleKind.Cosine:
                return MinLr + (PeakLr - MinLr) * 0.5 * (1 + Math.Cos(Math.PI * Progress(step, WarmupSteps)));
            case ScheduleKind.Linear:
                return PeakLr + (MinLr - PeakLr) * Progress(step, WarmupSteps);
            case ScheduleKind.WarmupStableDecay:
                // Decay starts decay_fraction of the run before the end, never before warm-up has finished.
                var decayStart = Math.Max(WarmupSteps, (int)Math.Round(TotalSteps * (1 - DecayFraction)));
                return step < decayStart ? PeakLr : PeakLr + (MinLr - PeakLr) * Progress(step, decayStart);
            default:
                throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "unknown schedule");
        }
    }

    /// <summary>Multiplier relative to the peak, used to scale optimizers with their own base rate (Muon).</summary>
    public double Factor(long step) => At(step) / PeakLr;

    double Progress(long step, int start) =>
        TotalSteps <= start ? 1 : Math.Clamp((double)(step - start) / (TotalSteps - start), 0, 1);
}

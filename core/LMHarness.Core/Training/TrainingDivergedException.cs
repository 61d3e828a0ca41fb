namespace LMHarness.Training;

/// <summary>Thrown when the loss or the gradient norm is NaN or infinite; the run stops before the bad update is applied or saved.</summary>
public sealed class TrainingDivergedException(long step, string message) : Exception(message)
{
    /// <summary>The 1-based optimizer step whose loss or gradient was not finite.</summary>
    public long Step { get; } = step;
}

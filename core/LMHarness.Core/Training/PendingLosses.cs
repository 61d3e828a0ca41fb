using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Training;

/// <summary>
/// The losses and gradient norms of the steps since the last read, kept on the device, so steps between log steps
/// never wait for it. <see cref="Read"/> brings them to the host in one transfer and stops the run at the first
/// non-finite one, naming its step; the last good checkpoint is never overwritten by a non-finite state because every
/// checkpoint step reads first.
/// </summary>
sealed class PendingLosses : IDisposable
{
    readonly List<(long Step, Tensor Loss, Tensor Norm)> _steps = [];

    public void Add(long step, (Tensor Loss, Tensor GradNorm) output) => _steps.Add((step, output.Loss, output.GradNorm));

    /// <summary>The last step's loss and gradient norm; throws <see cref="TrainingDivergedException"/> at the first
    /// step whose loss or norm is not finite. <paramref name="lastCheckpoint"/> names what is left to resume from.</summary>
    public (double Loss, double GradNorm) Read(string? lastCheckpoint)
    {
        if (_steps.Count == 0) throw new InvalidOperationException("no step to read");
        double[] values;
        using (var scope = torch.NewDisposeScope())
            values = torch.stack(_steps.SelectMany(s => new[] { s.Loss.to(ScalarType.Float64), s.Norm.to(ScalarType.Float64) }).ToArray()).cpu().data<double>().ToArray();
        var steps = _steps.Select(s => s.Step).ToList();
        Dispose();
        for (var i = 0; i < steps.Count; i++)
        {
            var (loss, norm) = (values[2 * i], values[2 * i + 1]);
            if (!double.IsFinite(loss)) throw Diverged(steps[i], $"the training loss is {loss} at step {steps[i]}", lastCheckpoint);
            if (!double.IsFinite(norm)) throw Diverged(steps[i], $"the gradient norm is {norm} at step {steps[i]} (loss {loss:F4})", lastCheckpoint);
        }
        return (values[^2], values[^1]);
    }

    static TrainingDivergedException Diverged(long step, string what, string? lastCheckpoint) =>
        new(step, $"Training diverged: {what}. Nothing from this step on was saved; " +
            (lastCheckpoint is null ? "there is no checkpoint yet. " : $"the last good checkpoint is {lastCheckpoint}. ") +
            "Lower learning_rate, set grad_clip (e.g. 1.0) or a longer warmup_steps, then start a new run folder or resume from the checkpoint.");

    public void Dispose()
    {
        foreach (var (_, loss, norm) in _steps) { loss.Dispose(); norm.Dispose(); }
        _steps.Clear();
    }
}

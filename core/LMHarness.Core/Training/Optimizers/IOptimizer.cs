namespace LMHarness.Training.Optimizers;

/// <summary>
/// An update rule over a model's parameters whose learning rates all follow one schedule. <see cref="Step"/>
/// multiplies each group's base learning rate by the schedule factor (lr(step) / peak lr), so optimizers with
/// their own base rate (Muon) follow the same shape. State round-trips through <see cref="Save"/> / <see cref="Load"/>
/// bit for bit, which exact resume needs.
/// </summary>
public interface IOptimizer : IDisposable
{
    /// <summary>Applies one update from the current gradients, with every learning rate scaled by <paramref name="lrFactor"/>.</summary>
    void Step(double lrFactor);
    void ZeroGrad();
    void Save(BinaryWriter writer);
    void Load(BinaryReader reader);
}

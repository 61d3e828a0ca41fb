using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using LMHarness.Config;

namespace LMHarness.Training.Optimizers;

/// <summary>
/// AdamW (Loshchilov and Hutter 2019, "Decoupled Weight Decay Regularization") through TorchSharp's
/// <c>torch.optim.AdamW</c>: weight decay on >= 2-D tensors, none on the rest, and a peak learning rate per
/// <see cref="ParameterRole"/> (<see cref="ParameterGroups.ByLearningRate"/>).
/// Per step t: p -= lr wd p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
/// p -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
/// </summary>
public sealed class AdamWOptimizer : IOptimizer
{
    readonly optim.Optimizer _inner;
    readonly double[] _peaks;

    public AdamWOptimizer(ParameterGroups groups, double lr, double beta1, double beta2, double eps, double weightDecay)
        : this(groups, GroupLearningRates.Uniform(lr), beta1, beta2, eps, weightDecay) { }

    public AdamWOptimizer(ParameterGroups groups, GroupLearningRates lrs, double beta1, double beta2, double eps, double weightDecay)
    {
        var byLr = groups.ByLearningRate(lrs);
        _peaks = byLr.Select(g => g.LearningRate).ToArray();
        var pgs = byLr.Select(g => new AdamW.ParamGroup(g.Params, g.LearningRate, beta1, beta2, eps, g.Decay ? weightDecay : 0.0, false, false)).ToList();
        _inner = torch.optim.AdamW(pgs, lrs.Matrix, beta1, beta2, eps, weightDecay, false, false);
    }

    public static AdamWOptimizer For(ParameterGroups groups, TrainingConfig c) =>
        new(groups, GroupLearningRates.Of(c), c.Beta1, c.Beta2, c.Eps, c.WeightDecay);

    public void Step(double lrFactor)
    {
        var i = 0;
        foreach (var g in _inner.ParamGroups) g.LearningRate = _peaks[i++] * lrFactor;
        _inner.step();
    }

    public void ZeroGrad() => _inner.zero_grad();
    public void Save(BinaryWriter writer) => ((OptimizerHelper)_inner).save_state_dict(writer);
    public void Load(BinaryReader reader) => ((OptimizerHelper)_inner).load_state_dict(reader);
    public void Dispose() => _inner.Dispose();
}

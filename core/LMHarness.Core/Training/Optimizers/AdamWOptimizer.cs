using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using LMHarness.Config;

namespace LMHarness.Training.Optimizers;

/// <summary>
/// AdamW (Loshchilov and Hutter 2019, "Decoupled Weight Decay Regularization") through TorchSharp's
/// <c>torch.optim.AdamW</c>, with two parameter groups: weight decay on >= 2-D tensors, none on the rest.
/// Per step t: p -= lr wd p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
/// p -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
/// </summary>
public sealed class AdamWOptimizer : IOptimizer
{
    readonly optim.Optimizer _inner;
    readonly double _lr;

    public AdamWOptimizer(ParameterGroups groups, double lr, double beta1, double beta2, double eps, double weightDecay)
    {
        _lr = lr;
        var pgs = new List<AdamW.ParamGroup>();
        if (groups.Decay.Count > 0)
            pgs.Add(new AdamW.ParamGroup(groups.Decay.Select(x => x.Param), lr, beta1, beta2, eps, weightDecay, false, false));
        if (groups.NoDecay.Count > 0)
            pgs.Add(new AdamW.ParamGroup(groups.NoDecay.Select(x => x.Param), lr, beta1, beta2, eps, 0.0, false, false));
        _inner = torch.optim.AdamW(pgs, lr, beta1, beta2, eps, weightDecay, false, false);
    }

    public static AdamWOptimizer For(ParameterGroups groups, TrainingConfig c) =>
        new(groups, c.LearningRate, c.Beta1, c.Beta2, c.Eps, c.WeightDecay);

    public void Step(double lrFactor)
    {
        foreach (var g in _inner.ParamGroups) g.LearningRate = _lr * lrFactor;
        _inner.step();
    }

    public void ZeroGrad() => _inner.zero_grad();
    public void Save(BinaryWriter writer) => ((OptimizerHelper)_inner).save_state_dict(writer);
    public void Load(BinaryReader reader) => ((OptimizerHelper)_inner).load_state_dict(reader);
    public void Dispose() => _inner.Dispose();
}

using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using LMHarness.Config;

namespace LMHarness.Training.Optimizers;

/// <summary>
/// AdamW (Loshchilov and Hutter 2019, "Decoupled Weight Decay Regularization"): weight decay on >= 2-D tensors, none
/// on the rest, and a peak learning rate per <see cref="ParameterRole"/> (<see cref="ParameterGroups.ByLearningRate"/>).
/// Per step t: p -= lr wd p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
/// p -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
/// <para>The state (m, v, t) lives in TorchSharp's <c>torch.optim.AdamW</c>, which also writes and reads it, so
/// checkpoints keep its format. The update is the same sequence of operations as its <c>step()</c>, written here
/// because that one converts every coefficient to a native <see cref="Scalar"/> it never disposes: ~8 per parameter
/// tensor per step, freed only by the garbage collector, and those small native blocks pinned the C heap so that the
/// step's large buffers could not be reused (RSS grew ~20 MB a step with a 50k vocabulary). Here each is disposed.</para>
/// </summary>
public sealed class AdamWOptimizer : IOptimizer
{
    readonly AdamW _inner;
    readonly double[] _peaks;
    readonly (AdamW.ParamGroup Group, (Parameter P, AdamW.State State)[] Slots)[] _groups;

    public AdamWOptimizer(ParameterGroups groups, double lr, double beta1, double beta2, double eps, double weightDecay)
        : this(groups, GroupLearningRates.Uniform(lr), beta1, beta2, eps, weightDecay) { }

    public AdamWOptimizer(ParameterGroups groups, GroupLearningRates lrs, double beta1, double beta2, double eps, double weightDecay)
    {
        var byLr = groups.ByLearningRate(lrs);
        _peaks = byLr.Select(g => g.LearningRate).ToArray();
        var pgs = byLr.Select(g => new AdamW.ParamGroup(g.Params, g.LearningRate, beta1, beta2, eps, g.Decay ? weightDecay : 0.0, false, false)).ToList();
        _inner = torch.optim.AdamW(pgs, lrs.Matrix, beta1, beta2, eps, weightDecay, false, false);
        // state_dict() lists one state per parameter, group by group, in the groups' parameter order.
        var states = _inner.state_dict().State.Cast<AdamW.State>().GetEnumerator();
        _groups = pgs.Select(pg => (pg, pg.Parameters.Select(p => { states.MoveNext(); return (p, states.Current); }).ToArray())).ToArray();
    }

    public static AdamWOptimizer For(ParameterGroups groups, TrainingConfig c) =>
        new(groups, GroupLearningRates.Of(c), c.Beta1, c.Beta2, c.Eps, c.WeightDecay);

    public void Step(double lrFactor)
    {
        using var _ = torch.no_grad();
        for (var i = 0; i < _groups.Length; i++)
        {
            var (group, slots) = _groups[i];
            group.LearningRate = _peaks[i] * lrFactor;
            var o = group.Options;
            double lr = o.LearningRate!.Value, beta1 = o.beta1!.Value, beta2 = o.beta2!.Value, eps = o.eps!.Value, wd = o.weight_decay!.Value;
            using Scalar oneMinusBeta1 = 1 - beta1, oneMinusBeta2 = 1 - beta2, b1 = beta1, b2 = beta2, epsilon = eps, decay = 1 - lr * wd, one = 1;
            foreach (var (p, state) in slots)
            {
                using var scope = torch.NewDisposeScope();
                var grad = p.grad;
                if (grad is null) continue;
                state.step += 1;
                if (wd != 0) p.mul_(decay);
                using Scalar rootBias2 = Math.Sqrt(1 - Math.Pow(beta2, state.step)), stepSize = -(lr / (1 - Math.Pow(beta1, state.step)));
                state.exp_avg.mul_(b1).add_(grad, alpha: oneMinusBeta1);
                state.exp_avg_sq.mul_(b2).addcmul_(grad, grad, value: oneMinusBeta2);
                var denom = (state.exp_avg_sq.sqrt() / rootBias2).add_(epsilon, one); // add_(s) alone would pass a fresh Scalar 1
                p.addcdiv_(state.exp_avg, denom, value: stepSize);
            }
        }
    }

    public void ZeroGrad()
    {
        foreach (var (_, slots) in _groups)
            foreach (var (p, _) in slots)
            {
                using var grad = p.grad;
                grad?.zero_();
            }
    }

    public void Save(BinaryWriter writer) => _inner.save_state_dict(writer);
    /// <summary>Restores the moments and step counts. TorchSharp's state also carries each group's betas, eps and weight
    /// decay: this optimizer keeps its own, so a run that starts from another run's state (init_optimizer) trains with
    /// its own hyperparameters (on a resume they are the same).</summary>
    public void Load(BinaryReader reader)
    {
        var own = _groups.Select(g => (g.Group.Options.beta1, g.Group.Options.beta2, g.Group.Options.eps, g.Group.Options.weight_decay)).ToArray();
        _inner.load_state_dict(reader);
        for (var i = 0; i < _groups.Length; i++)
        {
            var o = _groups[i].Group.Options;
            (o.beta1, o.beta2, o.eps, o.weight_decay) = own[i];
        }
    }
    public void Dispose() => _inner.Dispose();
}

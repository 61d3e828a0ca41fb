using TorchSharp;
using TorchSharp.Modules;
using LMHarness.Training.Checkpoints;
using static TorchSharp.torch;
using LMHarness.Config;

namespace LMHarness.Training.Optimizers;

/// <summary>
/// AdEMAMix (Pagliardini, Ablin and Grangier 2024, "The AdEMAMix Optimizer: Better, Faster, Older"): Adam plus a
/// slow momentum EMA that keeps gradients from thousands of steps ago. Per step t:
/// m1 = b1 m1 + (1-b1) g; m2 = b3(t) m2 + (1-b3(t)) g; v = b2 v + (1-b2) g^2;
/// p -= lr ( (m1 / (1-b1^t) + alpha(t) m2) / (sqrt(v / (1-b2^t)) + eps) + wd p ).
/// Schedules over T warm-up steps (the reference implementation, apple/ml-ademamix):
/// alpha(t) = min(t alpha / T, alpha); b3(t) = min(exp(ln b1 ln b3 / ((1 - t/T) ln b3 + (t/T) ln b1)), b3),
/// which interpolates the EMA half-life from b1's to b3's. Weight decay applies to >= 2-D tensors only; lr is the
/// peak rate of the parameter's role (<see cref="GroupLearningRates"/>) times the schedule factor.
/// </summary>
public sealed class AdEMAMixOptimizer : IOptimizer
{
    sealed record Slot(Parameter P, Tensor Fast, Tensor Slow, Tensor Sq, double Lr, double WeightDecay);

    readonly List<Slot> _slots;
    readonly double _beta1, _beta2, _beta3, _alpha, _eps;
    readonly int _warmup;
    long _t;

    public AdEMAMixOptimizer(ParameterGroups groups, double lr, double beta1, double beta2, double beta3, double alpha,
        int alphaBeta3Warmup, double eps, double weightDecay)
        : this(groups, GroupLearningRates.Uniform(lr), beta1, beta2, beta3, alpha, alphaBeta3Warmup, eps, weightDecay) { }

    /// <summary>AdEMAMix with a peak learning rate per parameter role (<paramref name="lrs"/>).</summary>
    public AdEMAMixOptimizer(ParameterGroups groups, GroupLearningRates lrs, double beta1, double beta2, double beta3, double alpha,
        int alphaBeta3Warmup, double eps, double weightDecay)
    {
        _beta1 = beta1; _beta2 = beta2; _beta3 = beta3; _alpha = alpha; _warmup = alphaBeta3Warmup; _eps = eps;
        Slot Make((string Name, Parameter P) x, double wd) => new(x.P, Z(x.P), Z(x.P), Z(x.P), groups.LearningRateOf(x.Name, x.P, lrs), wd);
        _slots = groups.Decay.Select(x => Make(x, weightDecay))
            .Concat(groups.NoDecay.Select(x => Make(x, 0.0))).ToList();
    }

    static Tensor Z(Tensor p) => torch.zeros_like(p).DetachFromDisposeScope();

    public static AdEMAMixOptimizer For(ParameterGroups groups, TrainingConfig c) =>
        new(groups, GroupLearningRates.Of(c), c.Beta1, c.Beta2, c.Beta3, c.Alpha,
            c.AlphaBeta3Warmup > 0 ? c.AlphaBeta3Warmup : c.TotalSteps, c.Eps, c.WeightDecay);

    /// <summary>alpha(t) of the schedule (t is the 1-based step count).</summary>
    public static double AlphaAt(long t, double alpha, int warmup) => warmup <= 0 ? alpha : Math.Min(t * alpha / warmup, alpha);

    /// <summary>beta3(t) of the schedule (t is the 1-based step count).</summary>
    public static double Beta3At(long t, double beta1, double beta3, int warmup)
    {
        if (warmup <= 0) return beta3;
        var r = (double)t / warmup;
        return Math.Min(Math.Exp(Math.Log(beta1) * Math.Log(beta3) / ((1 - r) * Math.Log(beta3) + r * Math.Log(beta1))), beta3);
    }

    public void Step(double lrFactor)
    {
        _t++;
        var bc1 = 1 - Math.Pow(_beta1, _t);
        var bc2 = 1 - Math.Pow(_beta2, _t);
        var alpha = AlphaAt(_t, _alpha, _warmup);
        var beta3 = Beta3At(_t, _beta1, _beta3, _warmup);
        using var _ = torch.no_grad();
        // Every coefficient as a Scalar disposed here (an implicit double -> Scalar is freed only by the finalizer).
        using Scalar b1 = _beta1, b2 = _beta2, b3 = beta3, oneMinusB1 = 1 - _beta1, oneMinusB2 = 1 - _beta2, oneMinusB3 = 1 - beta3,
            rootBias2 = Math.Sqrt(bc2), bias1 = bc1, mix = alpha, eps = _eps, one = 1;
        foreach (var s in _slots)
        {
            using var scope = torch.NewDisposeScope();
            var g = s.P.grad;
            if (g is null) continue;
            s.Fast.mul_(b1).add_(g, alpha: oneMinusB1);
            s.Slow.mul_(b3).add_(g, alpha: oneMinusB3);
            s.Sq.mul_(b2).addcmul_(g, g, value: oneMinusB2);
            var denom = s.Sq.sqrt().div(rootBias2).add_(eps, one);
            var update = s.Fast.div(bias1).add(s.Slow.mul(mix), one).div(denom); // (m1 / (1-b1^t) + alpha m2) / denom
            using Scalar decay = s.WeightDecay, step = -s.Lr * lrFactor;
            if (s.WeightDecay > 0) update.add_(s.P, alpha: decay);
            s.P.add_(update, alpha: step);
        }
    }

    public void ZeroGrad()
    {
        foreach (var s in _slots) s.P.grad?.zero_();
    }

    public void Save(BinaryWriter writer)
    {
        writer.Write(_t);
        TensorIO.Write(writer, _slots.SelectMany(s => new[] { s.Fast, s.Slow, s.Sq }).ToList());
    }

    public void Load(BinaryReader reader)
    {
        _t = reader.ReadInt64();
        TensorIO.ReadInto(reader, _slots.SelectMany(s => new[] { s.Fast, s.Slow, s.Sq }).ToList(), "AdEMAMix state");
    }

    public void Dispose()
    {
        foreach (var s in _slots) { s.Fast.Dispose(); s.Slow.Dispose(); s.Sq.Dispose(); }
    }
}

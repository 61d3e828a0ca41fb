using TorchSharp;
using TorchSharp.Modules;
using LMHarness.Training.Checkpoints;
using static TorchSharp.torch;
using LMHarness.Config;

namespace LMHarness.Training.Optimizers;

/// <summary>
/// Muon (Jordan et al. 2024, "Muon: An optimizer for hidden layers in neural networks") for the 2-D hidden weights,
/// AdamW for everything else (embeddings, head, norms, biases; each role at its own peak rate), as in the reference "MuonWithAuxAdam".
/// Per hidden weight W with gradient G (shape rows x cols):
/// M = beta M + (1 - beta) G; U = Nesterov ? (1 - beta) G + beta M : M; O = NewtonSchulz5(U);
/// W -= lr wd W; W -= lr sqrt(max(1, rows / cols)) O.
/// The sqrt(max(1, rows/cols)) factor keeps the update RMS comparable across shapes (Keller Jordan's scaling).
/// </summary>
public sealed class MuonOptimizer : IOptimizer
{
    readonly List<(Parameter P, Tensor Momentum)> _hidden;
    readonly AdamWOptimizer _adam;
    readonly double _lr, _momentum, _weightDecay;
    readonly bool _nesterov;

    public MuonOptimizer(ParameterGroups groups, double muonLr, double momentum, bool nesterov, double weightDecay,
        double adamLr, double beta1, double beta2, double eps)
        : this(groups, muonLr, momentum, nesterov, weightDecay, GroupLearningRates.Uniform(adamLr), beta1, beta2, eps) { }

    /// <summary>Muon with AdamW at a peak rate per role for the rest (<paramref name="adamLrs"/>: embeddings, head, scalars; its matrix rate is unused, Muon takes the matrices).</summary>
    public MuonOptimizer(ParameterGroups groups, double muonLr, double momentum, bool nesterov, double weightDecay,
        GroupLearningRates adamLrs, double beta1, double beta2, double eps)
    {
        _lr = muonLr; _momentum = momentum; _nesterov = nesterov; _weightDecay = weightDecay;
        _hidden = groups.Hidden.Select(h => (h.Param, torch.zeros_like(h.Param).DetachFromDisposeScope())).ToList();
        _adam = new AdamWOptimizer(groups.WithoutHidden(), adamLrs, beta1, beta2, eps, weightDecay);
    }

    public static MuonOptimizer For(ParameterGroups groups, TrainingConfig c) =>
        new(groups, c.MuonLearningRate, c.MuonMomentum, true, c.WeightDecay, GroupLearningRates.Of(c), c.Beta1, c.Beta2, c.Eps);

    public void Step(double lrFactor)
    {
        var lr = _lr * lrFactor;
        using Scalar decay = 1 - lr * _weightDecay;
        using (torch.no_grad())
        {
            foreach (var (p, m) in _hidden)
            {
                using var scope = torch.NewDisposeScope();
                var g = p.grad;
                if (g is null) continue;
                // lerp takes its weight as a tensor: an implicit double -> Tensor lands on the default device (the
                // CPU), which a CUDA momentum buffer cannot be mixed with; build it on the buffer's device.
                var toGrad = torch.tensor(1 - _momentum, dtype: m.dtype, device: m.device);
                var toMomentum = torch.tensor(_momentum, dtype: m.dtype, device: m.device);
                m.lerp_(g, toGrad);
                var update = _nesterov ? g.lerp(m, toMomentum) : m;
                var o = NewtonSchulz.Orthogonalize(update);
                using Scalar step = -lr * Math.Sqrt(Math.Max(1.0, (double)p.shape[0] / p.shape[1]));
                if (_weightDecay > 0) p.mul_(decay);
                p.add_(o, alpha: step);
            }
        }
        _adam.Step(lrFactor);
    }

    public void ZeroGrad()
    {
        foreach (var (p, _) in _hidden) p.grad?.zero_();
        _adam.ZeroGrad();
    }

    public void Save(BinaryWriter writer)
    {
        TensorIO.Write(writer, _hidden.Select(h => h.Momentum).ToList());
        _adam.Save(writer);
    }

    public void Load(BinaryReader reader)
    {
        TensorIO.ReadInto(reader, _hidden.Select(h => h.Momentum).ToList(), "Muon momentum");
        _adam.Load(reader);
    }

    public void Dispose()
    {
        foreach (var (_, m) in _hidden) m.Dispose();
        _adam.Dispose();
    }
}

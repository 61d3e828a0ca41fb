using static TorchSharp.torch;
using LMHarness.Config;
using LMHarness.Model;

namespace LMHarness.Training.Optimizers;

/// <summary>
/// Builds the optimizer a <see cref="TrainingConfig"/> names over a model's parameters. AdamW and AdEMAMix take μP's
/// per-parameter learning-rate factors (<see cref="ParameterGroups.LearningRateMultipliers"/>): both are Adam-like, their
/// update has entries of size ~lr whatever the gradient's scale, so the same 1/width rule applies (Tensor Programs V).
/// Muon with a μP model is refused: its orthogonalised update is already scaled per shape (spectral norm ~ sqrt(fan_out /
/// fan_in), Bernstein et al. 2023, "A spectral condition for feature learning"), so μP's Adam rule would scale it twice.
/// </summary>
public static class OptimizerFactory
{
    public static IOptimizer Create(nn.Module model, TrainingConfig config)
    {
        if (config.Optimizer == OptimizerKind.Muon && model is CausalLM { Config.Parametrization: Parametrization.Mup })
            throw new NotSupportedException("optimizer muon with parametrization mup is not supported: Muon's orthogonalised update is already " +
                "scaled per shape (Bernstein et al. 2023, a spectral condition for feature learning), and μP's Adam learning-rate rule would scale it " +
                "a second time. Use optimizer adamw or ademamix with mup, or muon with parametrization sp.");
        var groups = ParameterGroups.Split(model);
        return config.Optimizer switch
        {
            OptimizerKind.AdamW => AdamWOptimizer.For(groups, config),
            OptimizerKind.Muon => MuonOptimizer.For(groups, config),
            OptimizerKind.AdEMAMix => AdEMAMixOptimizer.For(groups, config),
            _ => throw new ArgumentOutOfRangeException(nameof(config), config.Optimizer, "unknown optimizer"),
        };
    }
}

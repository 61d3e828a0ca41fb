using static TorchSharp.torch;
using LMHarness.Config;

namespace LMHarness.Training.Optimizers;

/// <summary>Builds the optimizer a <see cref="TrainingConfig"/> names over a model's parameters.</summary>
public static class OptimizerFactory
{
    public static IOptimizer Create(nn.Module model, TrainingConfig config)
    {
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

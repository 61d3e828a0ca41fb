using LMHarness.Config;
using LMHarness.Model;
using LMHarness.Runs;
using LMHarness.Training.Optimizers;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Training;

/// <summary>
/// One optimizer step: for each of grad_accumulation micro-batches, forward, mean next-token loss, backward of
/// loss / grad_accumulation (so the summed gradient is the gradient of the mean over all micro-batches); then the
/// gradients move to the fp32 master weights, global-norm clipping, and one update at lr(step). The step's mean loss
/// and the gradient norm before clipping come back as device tensors: nothing here waits for the device.
/// </summary>
public sealed class TrainStep(PrecisionPolicy precision, IOptimizer optimizer, IBatchSource data, TrainingConfig training, Device device)
{
    /// <summary>Takes the step; the returned tensors are the caller's to dispose. With <paramref name="gradFlow"/>,
    /// also reports every parameter's |gradient| statistics (after clipping) as step <paramref name="step"/>.</summary>
    public (Tensor Loss, Tensor GradNorm) Run(double lrFactor, long step, Action<IReadOnlyList<GradFlowRow>>? gradFlow)
    {
        // GPU dropout draws from generators TorchSharp cannot checkpoint: seed them from (run seed, step) instead, so a
        // resumed run draws what the uninterrupted one did (a no-op without CUDA).
        RandomState.SeedCudaForStep(training.Seed, step);
        using var scope = torch.NewDisposeScope();
        optimizer.ZeroGrad();
        precision.ZeroComputeGrads();
        var lossSum = torch.zeros([], ScalarType.Float64, device: device);
        using Scalar micro = training.GradAccumulation, one = 1;
        for (var m = 0; m < training.GradAccumulation; m++)
        {
            var (x, y) = data.NextTrain();
            var loss = NextTokenLoss.Mean(precision.Compute, Devices.ToDevice(x, device), Devices.ToDevice(y, device), training.FusedLoss);
            lossSum.add_(loss.detach().to(ScalarType.Float64), one);
            loss.div(micro).backward();
        }
        HandedGradients.Release(); // backward has returned: free what recomputation and the fused loss handed to autograd
        precision.MoveGradientsToMaster();
        var parameters = precision.MasterParameters;
        var norm = GradientClipping.ClipByGlobalNorm(parameters.Select(p => p.Param), training.GradClip);
        if (gradFlow is not null) gradFlow(GradFlow(step, parameters));
        optimizer.Step(lrFactor);
        precision.SyncCompute();
        return (lossSum.div(micro).DetachFromDisposeScope(), norm.DetachFromDisposeScope());
    }

    /// <summary>Mean and max |gradient| of every parameter tensor, read back in one transfer.</summary>
    static IReadOnlyList<GradFlowRow> GradFlow(long step, IReadOnlyList<(string Name, TorchSharp.Modules.Parameter Param)> parameters)
    {
        using var scope = torch.NewDisposeScope();
        var withGrad = parameters.Where(p => p.Param.grad is not null).ToList();
        if (withGrad.Count == 0) return [];
        var stats = torch.stack(withGrad.Select(p =>
        {
            var a = p.Param.grad!.abs().to(ScalarType.Float32);
            return torch.stack([a.mean(), a.max()]);
        }).ToArray()).cpu();
        var values = stats.data<float>().ToArray();
        return withGrad.Select((p, i) => new GradFlowRow(step, p.Name, values[2 * i], values[2 * i + 1])).ToList();
    }
}

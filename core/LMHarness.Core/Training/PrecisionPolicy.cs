using LMHarness.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LMHarness.Training;

/// <summary>
/// Which numbers the model computes in, and which it keeps. fp32: one model does everything. bf16 (mixed precision,
/// Micikevicius et al. 2018): a bf16 copy runs forward and backward, its gradients are added into fp32 gradients of
/// the fp32 master model, the optimizer (with fp32 state) updates the master, and the master's weights are copied back
/// into the bf16 copy after every step. bf16 needs no loss scaling: its exponent range is fp32's.
/// Evaluation runs the compute model, so a bf16 run is evaluated in bf16 too.
/// </summary>
public sealed class PrecisionPolicy : IDisposable
{
    readonly List<(string Name, Parameter Param)> _master, _compute;

    PrecisionPolicy(nn.Module<Tensor, Tensor> master, nn.Module<Tensor, Tensor> compute, ScalarType dtype)
    {
        Master = master;
        Compute = compute;
        ComputeDtype = dtype;
        _master = master.named_parameters().ToList();
        _compute = compute == master ? _master : compute.named_parameters().ToList();
    }

    /// <summary>The fp32 weights the optimizer updates and checkpoints save.</summary>
    public nn.Module<Tensor, Tensor> Master { get; }
    /// <summary>The model forward and backward run on (the master itself in fp32).</summary>
    public nn.Module<Tensor, Tensor> Compute { get; }
    public ScalarType ComputeDtype { get; }
    public IReadOnlyList<(string Name, Parameter Param)> MasterParameters => _master;

    /// <summary>
    /// Builds the master model with <paramref name="build"/> (which draws its initial weights from torch's generator)
    /// on <paramref name="device"/>, and for bf16 a compute copy whose own initial draws are kept off the random stream
    /// (its weights are the master's anyway).
    /// </summary>
    public static PrecisionPolicy Create(TrainingDtype dtype, Func<nn.Module<Tensor, Tensor>> build, Device device)
    {
        var master = build();
        master.to(device);
        master.train();
        if (dtype == TrainingDtype.Fp32) return new PrecisionPolicy(master, master, ScalarType.Float32);
        using var rng = torch.random.get_rng_state();
        var compute = build();
        compute.to(device).to(ScalarType.BFloat16);
        compute.train();
        torch.random.set_rng_state(rng);
        return new PrecisionPolicy(master, compute, ScalarType.BFloat16);
    }

    /// <summary>Makes the compute weights equal the master's (after a step or a restore).</summary>
    public void SyncCompute()
    {
        if (Compute == Master) return;
        using var _ = torch.no_grad();
        for (var i = 0; i < _master.Count; i++) _compute[i].Param.copy_(_master[i].Param);
    }

    /// <summary>Clears the compute copy's gradients (the optimizer clears the master's).</summary>
    public void ZeroComputeGrads()
    {
        if (Compute != Master) Compute.zero_grad();
    }

    /// <summary>Adds the compute copy's gradients, in fp32, into the master's. Each fp32 copy is freed as soon as it is
    /// added: left to the caller's dispose scope they would all live until the step ends, 4 bytes per parameter beside
    /// the optimizer's update (for the default preset in bf16, 0.9 GB of a 6 GB peak).</summary>
    public void MoveGradientsToMaster()
    {
        if (Compute == Master) return;
        using var _ = torch.no_grad();
        using Scalar one = 1; // add_(t) would make a native Scalar 1 per parameter that only the finalizer frees
        for (var i = 0; i < _compute.Count; i++)
        {
            using var scope = torch.NewDisposeScope();
            var g = _compute[i].Param.grad;
            if (g is null) continue;
            var m = _master[i].Param;
            var mg = m.grad;
            if (mg is null) m.grad = g.to(ScalarType.Float32);
            else mg.add_(g.to(ScalarType.Float32), one);
        }
    }

    public void Dispose()
    {
        if (Compute != Master) Compute.Dispose();
        Master.Dispose();
    }
}

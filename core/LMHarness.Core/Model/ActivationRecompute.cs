using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace LMHarness.Model;

/// <summary>
/// Activation checkpointing (Chen et al. 2016, "Training Deep Nets with Sublinear Memory Cost") as a custom autograd
/// function, since TorchSharp 0.107 has no torch.utils.checkpoint. Forward runs the block without recording a
/// graph, keeping only its input; backward re-runs the block with grad enabled and backpropagates the incoming
/// gradient through the recomputed graph, returning gradients for the input and for every parameter of the block.
/// Parameters are passed as inputs of the function so the outer graph routes their gradients to AccumulateGrad
/// (each accumulates exactly once). The random state at forward is replayed during recomputation so dropout draws
/// the same masks: the gradients equal those of the plain backward.
/// <para>
/// Memory ownership. On CUDA, libtorch runs backward on its autograd thread for the device, where TorchSharp's dispose
/// scopes (per thread) do not reach, so nothing the backward makes may be left to a scope or to the GC: the
/// recomputed graph lives in a scope of the backward itself, the saved input and incoming gradient are disposed
/// there, and the gradients handed back to autograd (which keeps its own references, so the managed handles can go
/// as soon as autograd has taken them) go to <see cref="HandedGradients"/>, disposed by the next custom backward on the
/// same thread or by <see cref="HandedGradients.Release"/> once <c>backward()</c> has returned.
/// </para>
/// </summary>
public static class ActivationRecompute
{
    /// <summary>y = block(x) with the block's activations recomputed in backward instead of stored.</summary>
    public static Tensor Apply(Func<Tensor, Tensor> block, Tensor x, IReadOnlyList<Parameter> parameters)
    {
        // Frozen parameters (training.freeze) get no gradient: asked for one, autograd.grad throws inside backward,
        // on autograd's thread, and takes the process down. The block still reads them; it just does not route them.
        parameters = parameters.Where(p => p.requires_grad).ToList();
        var args = new object[2 + parameters.Count];
        args[0] = x;
        args[1] = new Recompute(block, parameters, new RngReplay(x.device));
        for (int i = 0; i < parameters.Count; i++) args[2 + i] = parameters[i];
        return CheckpointFunction.apply(args);
    }

    /// <summary>Disposes the handles of the gradients earlier backward calls returned to autograd (<see cref="HandedGradients.Release"/>).</summary>
    public static void ReleaseBackwardTensors() => HandedGradients.Release();

    /// <summary>Number of gradient handles waiting for release (<see cref="HandedGradients.Pending"/>).</summary>
    public static int PendingBackwardTensors => HandedGradients.Pending;

    /// <summary>What backward needs besides the saved input: the block, its parameters and the RNG to replay.</summary>
    private sealed class Recompute(Func<Tensor, Tensor> block, IReadOnlyList<Parameter> parameters, RngReplay rng)
    {
        public Func<Tensor, Tensor> Block { get; } = block;
        public IReadOnlyList<Parameter> Parameters { get; } = parameters;
        public RngReplay Rng { get; } = rng;
    }

    private sealed class CheckpointFunction : SingleTensorFunction<CheckpointFunction>
    {
        public override string Name => nameof(ActivationRecompute);

        public override Tensor forward(AutogradContext ctx, params object[] vars)
        {
            var x = (Tensor)vars[0];
            var recompute = (Recompute)vars[1];
            recompute.Rng.Capture();
            ctx.save_for_backward([x]);
            ctx.save_data(nameof(Recompute), recompute);
            return recompute.Block(x); // autograd is off here: nothing inside the block is kept
        }

        public override List<Tensor> backward(AutogradContext ctx, Tensor gradOutput)
        {
            HandedGradients.ReleaseThisThread();
            var recompute = (Recompute)ctx.get_data(nameof(Recompute));
            var handed = new List<Tensor>();
            using (var scope = torch.NewDisposeScope())
            {
                using var x = ctx.get_saved_variables()[0];
                using var grad = torch.enable_grad();
                var input = x.detach().requires_grad_(true);
                var y = recompute.Rng.Replay(() => recompute.Block(input));
                var wrt = new List<Tensor> { input };
                wrt.AddRange(recompute.Parameters);
                var grads = torch.autograd.grad([y], wrt, [gradOutput], allow_unused: true);
                foreach (var g in grads)
                    if (g is not null && !g.IsInvalid) handed.Add(g.DetachFromDisposeScope());
                // One gradient per forward argument: x, the Recompute object (none), then each parameter.
                var result = new List<Tensor> { grads[0], null! };
                result.AddRange(grads.Skip(1));
                HandedGradients.Hand(handed);
                gradOutput.Dispose(); // TorchSharp wrapped it for this call; autograd holds its own reference
                return result;
            }
        }
    }
}

/// <summary>
/// The random state one checkpointed call captures at forward and replays at recomputation so dropout draws the same
/// masks. CPU: the CPU generator's state, kept as bytes (no native tensor to outlive the graph). CUDA: TorchSharp
/// 0.107 cannot read a CUDA generator's state (see <see cref="RandomState"/>), so capture draws a fresh seed from the
/// CPU stream and seeds the CUDA generators with it, and replay seeds them again with the same value. Both go through
/// <c>torch.cuda.manual_seed_all</c>: forward runs on the main thread (current device: cuda:0) but backward runs on
/// the autograd thread of the tensor's device, so seeding "the current device" would seed different generators
/// for a model on cuda:1.
/// </summary>
internal sealed class RngReplay(Device device)
{
    private byte[]? cpuState;
    private long cudaSeed;

    /// <summary>The device of the checkpointed block's input, whose generator dropout draws from.</summary>
    public Device Device { get; } = device;

    /// <summary>The seed given to the CUDA generators at capture (0 on CPU).</summary>
    public long CudaSeed => cudaSeed;

    /// <summary>Records the RNG state so <see cref="Replay"/> can reproduce the dropout masks of this call.</summary>
    public void Capture()
    {
        if (Device.type == DeviceType.CUDA)
        {
            using var draw = randint(long.MaxValue, [1], dtype: ScalarType.Int64, device: CPU);
            cudaSeed = draw.item<long>();
            RandomState.SeedCuda(cudaSeed);
        }
        // After the seed draw, so the replayed CPU stream is the one the block's forward saw.
        using (var state = torch.get_rng_state()) cpuState = state.data<byte>().ToArray();
    }

    /// <summary>Runs <paramref name="action"/> with the RNG as it was at <see cref="Capture"/>, then restores the CPU RNG.</summary>
    public T Replay<T>(Func<T> action)
    {
        if (cpuState is null) throw new InvalidOperationException("RngReplay.Replay before Capture: the checkpointed forward did not run.");
        using var now = torch.get_rng_state();
        using (var saved = torch.tensor(cpuState, dtype: ScalarType.Byte, device: CPU)) torch.set_rng_state(saved);
        if (Device.type == DeviceType.CUDA) RandomState.SeedCuda(cudaSeed);
        try { return action(); }
        finally { torch.set_rng_state(now); }
    }
}

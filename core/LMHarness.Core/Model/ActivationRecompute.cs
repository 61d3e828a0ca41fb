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
/// </summary>
public static class ActivationRecompute
{
    /// <summary>y = block(x) with the block's activations recomputed in backward instead of stored.</summary>
    public static Tensor Apply(Func<Tensor, Tensor> block, Tensor x, IReadOnlyList<Parameter> parameters)
    {
        var args = new object[2 + parameters.Count];
        args[0] = x;
        args[1] = new Recompute(block, parameters, x.device);
        for (int i = 0; i < parameters.Count; i++) args[2 + i] = parameters[i];
        return CheckpointFunction.apply(args);
    }

    /// <summary>What backward needs besides the saved input: the block, its parameters and the RNG to replay.</summary>
    private sealed class Recompute(Func<Tensor, Tensor> block, IReadOnlyList<Parameter> parameters, Device device)
    {
        public Func<Tensor, Tensor> Block { get; } = block;
        public IReadOnlyList<Parameter> Parameters { get; } = parameters;
        private Tensor? cpuRngState;
        private long cudaSeed;

        /// <summary>Records the RNG state so <see cref="Replay"/> can reproduce the dropout masks of this call.</summary>
        public void Capture()
        {
            cpuRngState = torch.get_rng_state().DetachFromDisposeScope();
            if (device.type == DeviceType.CUDA)
            {
                // TorchSharp exposes no CUDA generator state: fix a fresh seed drawn from the CPU stream instead.
                cudaSeed = randint(long.MaxValue, [1], dtype: ScalarType.Int64).item<long>();
                torch.cuda.manual_seed(cudaSeed);
            }
        }

        /// <summary>Runs <paramref name="action"/> with the RNG as it was at <see cref="Capture"/>, then restores the current RNG.</summary>
        public T Replay<T>(Func<T> action)
        {
            using var now = torch.get_rng_state();
            torch.set_rng_state(cpuRngState!);
            if (device.type == DeviceType.CUDA) torch.cuda.manual_seed(cudaSeed);
            try { return action(); }
            finally { torch.set_rng_state(now); }
        }
    }

    private sealed class CheckpointFunction : SingleTensorFunction<CheckpointFunction>
    {
        public override string Name => nameof(ActivationRecompute);

        public override Tensor forward(AutogradContext ctx, params object[] vars)
        {
            var x = (Tensor)vars[0];
            var recompute = (Recompute)vars[1];
            recompute.Capture();
            ctx.save_for_backward([x]);
            ctx.save_data(nameof(Recompute), recompute);
            return recompute.Block(x); // autograd is off here: nothing inside the block is kept
        }

        public override List<Tensor> backward(AutogradContext ctx, Tensor gradOutput)
        {
            var x = ctx.get_saved_variables()[0];
            var recompute = (Recompute)ctx.get_data(nameof(Recompute));
            using var grad = torch.enable_grad();
            using var input = x.detach().requires_grad_(true);
            var y = recompute.Replay(() => recompute.Block(input));
            var wrt = new List<Tensor> { input };
            wrt.AddRange(recompute.Parameters);
            var grads = torch.autograd.grad([y], wrt, [gradOutput], allow_unused: true);
            // One gradient per forward argument: x, the Recompute object (none), then each parameter.
            var result = new List<Tensor> { grads[0], null! };
            result.AddRange(grads.Skip(1));
            return result;
        }
    }
}

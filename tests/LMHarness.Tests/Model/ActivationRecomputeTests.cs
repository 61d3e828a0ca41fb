using LMHarness.Config;
using LMHarness.Model;
using TorchSharp;
using LMHarness.Tests.Memory;
using static TorchSharp.torch;

namespace LMHarness.Tests.Model;

/// <summary>
/// Memory ownership and RNG replay of <see cref="ActivationRecompute"/> (gradient equality with dropout is
/// TrainingBehaviourTests.Checkpointed_backward_gives_the_plain_gradients).
/// </summary>
[Collection(nameof(GlobalTorchState))]
public class ActivationRecomputeTests
{
    /// <summary>
    /// On CUDA, libtorch runs backward on its own thread, where no dispose scope is open. CPU autograd runs backward on
    /// the calling thread, so calling backward() from a thread without a scope reproduces that here: every tensor the
    /// checkpoint's backward makes is then created outside any scope, and only explicit ownership frees it.
    /// Without the ownership code (recomputed graph in a backward scope, saved input and incoming gradient disposed,
    /// handed gradients released) this thread's live-tensor count grew by 26 per step (two blocks).
    /// </summary>
    [Fact]
    public void Backward_on_a_thread_without_a_dispose_scope_leaves_no_live_tensors()
    {
        var config = Tiny.Config(AttentionKind.Gqa, PositionKind.Rope) with { NLayer = 2, Dropout = 0.1, RecomputeActivations = true };
        using var model = Tiny.Build(config, seed: 5);
        model.train();
        using var idx = Tiny.Tokens(config, 2, 12);
        ActivationRecompute.ReleaseBackwardTensors(); // what earlier tests' backward calls handed out
        var liveAfterStep = new List<long>();
        for (var step = 0; step < 12; step++)
        {
            using var scope = NewDisposeScope();
            var loss = model.Loss(idx, idx);
            liveAfterStep.Add(LiveTensors.LeftOnAThread(() =>
            {
                loss.backward();
                ActivationRecompute.ReleaseBackwardTensors();
            }));
            model.zero_grad();
        }
        liveAfterStep.Should().OnlyContain(n => n == 0, "every tensor the backward made on its thread is disposed ({0})", string.Join(",", liveAfterStep));
        ActivationRecompute.PendingBackwardTensors.Should().Be(0);
    }

    [Fact]
    public void On_the_calling_thread_handed_gradients_are_released_by_the_next_backward_and_by_ReleaseBackwardTensors()
    {
        var config = Tiny.Config(AttentionKind.Mha, PositionKind.Learned) with { NLayer = 3, RecomputeActivations = true };
        using var model = Tiny.Build(config, seed: 6);
        model.train();
        using var idx = Tiny.Tokens(config, 2, 8);
        for (var step = 0; step < 3; step++)
        {
            using var scope = NewDisposeScope();
            model.Loss(idx, idx).backward();
            // Each call releases its predecessor's handles: only the last block's gradients are still held.
            var perBlock = model.parameters().Count() / 3; // roughly; the last call also returns the input's gradient
            ActivationRecompute.PendingBackwardTensors.Should().BeInRange(1, perBlock + 2);
        }
        ActivationRecompute.ReleaseBackwardTensors();
        ActivationRecompute.PendingBackwardTensors.Should().Be(0);
    }

    /// <summary>
    /// Replay on a CUDA tensor must seed the generators with the value capture used, through the all-devices call
    /// (backward runs on the autograd thread of the tensor's device, not on the current device). A CUDA
    /// <see cref="Device"/> object needs no GPU; the CUDA seeding is observed through <see cref="RandomState"/>'s seam.
    /// </summary>
    [Fact]
    public void Replay_for_a_cuda_tensor_reseeds_every_cuda_generator_with_the_captured_seed_and_restores_the_cpu_stream()
    {
        var seeded = new List<long>();
        var (seeder, available) = (RandomState.SeedCudaGenerators, RandomState.CudaAvailable);
        try
        {
            RandomState.SeedCudaGenerators = seeded.Add;
            RandomState.CudaAvailable = () => true;
            manual_seed(3);
            var rng = new RngReplay(new Device(DeviceType.CUDA, 1));
            rng.Capture();
            using var afterCapture = rand(4, device: CPU);
            using var replayed = rng.Replay(() => rand(4, device: CPU));
            using var afterReplay = rand(4, device: CPU);

            seeded.Should().Equal(rng.CudaSeed, rng.CudaSeed);
            replayed.allclose(afterCapture, rtol: 0, atol: 0).Should().BeTrue("replay draws what the forward drew");
            afterReplay.allclose(afterCapture, rtol: 0, atol: 0).Should().BeFalse("the CPU stream continues where it was, not at the replayed point");
        }
        finally
        {
            (RandomState.SeedCudaGenerators, RandomState.CudaAvailable) = (seeder, available);
        }
    }
}

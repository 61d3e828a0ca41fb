using static TorchSharp.torch;

namespace LMHarness.Tests;

[Collection(nameof(GlobalTorchState))]
public class RandomStateTests
{
    /// <summary>Runs <paramref name="body"/> as if CUDA were present, recording the seeds given to the CUDA generators.</summary>
    static List<long> WithFakeCuda(Action body)
    {
        var seeded = new List<long>();
        var (seeder, available) = (RandomState.SeedCudaGenerators, RandomState.CudaAvailable);
        try
        {
            RandomState.SeedCudaGenerators = seeded.Add;
            RandomState.CudaAvailable = () => true;
            body();
        }
        finally { (RandomState.SeedCudaGenerators, RandomState.CudaAvailable) = (seeder, available); }
        return seeded;
    }

    [Fact]
    public void Seed_seeds_the_cpu_generator_and_every_cuda_generator()
    {
        manual_seed(11);
        using var expected = rand(5, device: CPU);
        manual_seed(99);
        var seeded = WithFakeCuda(() => RandomState.Seed(11));
        using var actual = rand(5, device: CPU);
        actual.allclose(expected, rtol: 0, atol: 0).Should().BeTrue();
        seeded.Should().Equal(11L);
    }

    [Fact]
    public void Without_cuda_nothing_but_the_cpu_generator_is_touched()
    {
        if (cuda.is_available()) return; // on a GPU build the real generators are seeded; that is the other test's case
        RandomState.SeedCudaForStep(1, 2).Should().BeNull();
        RandomState.Seed(3); // must not throw on a CPU-only libtorch
    }

    [Fact]
    public void Step_seeds_are_deterministic_distinct_and_non_negative()
    {
        var seen = new HashSet<long>();
        for (long seed = 0; seed < 20; seed++)
        for (long step = 0; step < 500; step++)
        {
            var s = RandomState.StepSeed(seed, step);
            s.Should().BeGreaterThanOrEqualTo(0);
            seen.Add(s).Should().BeTrue($"(seed {seed}, step {step}) collides");
        }
        RandomState.StepSeed(7, 123).Should().Be(RandomState.StepSeed(7, 123));
        RandomState.StepSeed(7, 123).Should().NotBe(RandomState.StepSeed(123, 7));
    }

    [Fact]
    public void A_snapshot_restores_the_cpu_stream_and_reseeds_cuda_for_its_step_after_a_round_trip_through_bytes()
    {
        manual_seed(5);
        using (rand(3, device: CPU)) { }
        var snapshot = RandomState.Capture(seed: 42, step: 17);
        using var expected = randn(8, device: CPU);

        var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true)) snapshot.Write(w);
        buffer.Position = 0;
        var read = RandomSnapshot.Read(new BinaryReader(buffer), "test");
        read.Should().Be(snapshot);
        read.CpuState.Length.Should().Be(5056, "libtorch's CPU generator state: mt19937 + normal cache");

        manual_seed(1234);
        var seeded = WithFakeCuda(() => RandomState.Restore(read));
        using var actual = randn(8, device: CPU);
        actual.allclose(expected, rtol: 0, atol: 0).Should().BeTrue();
        seeded.Should().Equal(RandomState.StepSeed(42, 17));
    }

    [Fact]
    public void A_corrupt_snapshot_is_refused_naming_the_file()
    {
        var bytes = new MemoryStream();
        using (var w = new BinaryWriter(bytes, System.Text.Encoding.UTF8, leaveOpen: true)) w.Write("nope");
        bytes.Position = 0;
        FluentActions.Invoking(() => RandomSnapshot.Read(new BinaryReader(bytes), "ckpt/step_1.ckpt"))
            .Should().Throw<InvalidDataException>().WithMessage("ckpt/step_1.ckpt:*random-generator*");
    }
}

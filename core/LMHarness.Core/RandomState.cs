using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness;

/// <summary>
/// Seeding and capture of torch's global random generators for a run: the CPU generator (initial weights, batch
/// sampling, CPU dropout) and every CUDA device's default generator (GPU dropout).
/// <para>
/// TorchSharp 0.107's <c>torch.manual_seed</c> seeds only the CPU generator: it calls
/// <c>THSGenerator_manual_seed</c>, which sets <c>at::globalContext().defaultGenerator(CPU)</c> and nothing else
/// (checked in the shipped libLibTorchSharp.so; libtorch's own <c>torch::manual_seed</c>, which would seed CUDA too,
/// is exported as <c>THSTorch_manual_seed</c> but not bound). <see cref="Seed"/> therefore also calls
/// <c>torch.cuda.manual_seed_all</c>.
/// </para>
/// <para>
/// TorchSharp 0.107 cannot read or write a CUDA generator's state: <c>THSGenerator_default_generator</c> returns the
/// CPU generator, <c>THSGenerator_new(seed, device, index)</c> ignores the device and makes a CPU generator, and
/// <c>torch.cuda</c> has only <c>manual_seed</c> (current device) and <c>manual_seed_all</c>. So the CUDA streams are
/// made a function of (run seed, step) instead of being saved: the trainer calls <see cref="SeedCudaForStep"/> at the
/// start of every optimizer step, and a resumed run at step k draws exactly the CUDA numbers an uninterrupted run
/// draws at step k. A checkpoint stores only the CPU state (<see cref="RandomSnapshot"/>).
/// </para>
/// </summary>
public static class RandomState
{
    /// <summary>Seeds every CUDA device's default generator; replaceable so tests on a CPU build can observe the calls.</summary>
    internal static Action<long> SeedCudaGenerators = cuda.manual_seed_all;

    /// <summary>Whether CUDA generators exist in this process; replaceable for tests.</summary>
    internal static Func<bool> CudaAvailable = cuda.is_available;

    /// <summary>Seeds the CPU generator and the default generator of every CUDA device with <paramref name="seed"/>.</summary>
    public static void Seed(long seed)
    {
        torch.manual_seed(seed);
        if (CudaAvailable()) SeedCudaGenerators(seed);
    }

    /// <summary>
    /// The CUDA seed for optimizer step <paramref name="step"/> of a run seeded with <paramref name="seed"/>:
    /// SplitMix64 (Steele et al. 2014) of the pair, so neighbouring steps and seeds give unrelated streams.
    /// </summary>
    public static long StepSeed(long seed, long step)
    {
        unchecked
        {
            var z = (ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)step + 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            return (long)(z >> 1); // non-negative: libtorch's seeds are uint64, TorchSharp passes int64
        }
    }

    /// <summary>
    /// Seeds every CUDA device's generator with <see cref="StepSeed"/>(<paramref name="seed"/>, <paramref name="step"/>)
    /// and returns that seed; returns null and does nothing when no CUDA device exists (CPU runs draw only from the
    /// checkpointed CPU generator).
    /// </summary>
    public static long? SeedCudaForStep(long seed, long step)
    {
        if (!CudaAvailable()) return null;
        var s = StepSeed(seed, step);
        SeedCudaGenerators(s);
        return s;
    }

    /// <summary>Seeds every CUDA device's generator with <paramref name="seed"/> when CUDA is available (all devices: the current device is not the tensor's device on libtorch's autograd threads).</summary>
    public static void SeedCuda(long seed)
    {
        if (CudaAvailable()) SeedCudaGenerators(seed);
    }

    /// <summary>The CPU generator's state now, with the (seed, step) that determine the CUDA streams.</summary>
    public static RandomSnapshot Capture(long seed, long step)
    {
        using var state = torch.get_rng_state();
        return new RandomSnapshot(state.data<byte>().ToArray(), seed, step);
    }

    /// <summary>Restores the CPU generator from <paramref name="snapshot"/> and reseeds CUDA for its step (<see cref="SeedCudaForStep"/>).</summary>
    public static void Restore(RandomSnapshot snapshot)
    {
        using var state = torch.tensor(snapshot.CpuState, dtype: ScalarType.Byte, device: CPU);
        torch.set_rng_state(state);
        SeedCudaForStep(snapshot.Seed, snapshot.Step);
    }
}

/// <summary>
/// What a checkpoint keeps of the random generators: the CPU generator's state bytes (libtorch's mt19937 state,
/// 5056 bytes) and the (seed, step) from which every CUDA generator is reseeded (see <see cref="RandomState"/>).
/// </summary>
public sealed record RandomSnapshot(byte[] CpuState, long Seed, long Step)
{
    const string Magic = "RNG1";

    /// <summary>Writes the snapshot (magic, seed, step, length-prefixed CPU state).</summary>
    public void Write(BinaryWriter w)
    {
        w.Write(Magic);
        w.Write(Seed);
        w.Write(Step);
        w.Write(CpuState.Length);
        w.Write(CpuState);
    }

    /// <summary>Reads what <see cref="Write"/> wrote; <paramref name="source"/> names the file in errors.</summary>
    public static RandomSnapshot Read(BinaryReader r, string source)
    {
        if (r.ReadString() != Magic)
            throw new InvalidDataException($"{source}: expected the random-generator block ({Magic}) here; the file is corrupt or from another version.");
        var seed = r.ReadInt64();
        var step = r.ReadInt64();
        var n = r.ReadInt32();
        var bytes = r.ReadBytes(n);
        if (bytes.Length != n) throw new EndOfStreamException($"{source}: the random-generator block is truncated.");
        return new RandomSnapshot(bytes, seed, step);
    }

    public bool Equals(RandomSnapshot? other) =>
        other is not null && Seed == other.Seed && Step == other.Step && CpuState.AsSpan().SequenceEqual(other.CpuState);

    public override int GetHashCode() => HashCode.Combine(Seed, Step, CpuState.Length);
}

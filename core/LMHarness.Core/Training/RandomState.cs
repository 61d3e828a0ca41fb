using TorchSharp;

namespace LMHarness.Training;

/// <summary>
/// Seeding of every generator a run draws from: torch's CPU generator (initial weights, dropout and replayed batches
/// on the CPU) and, on a GPU machine, every CUDA device's generator (dropout on the GPU): TorchSharp's
/// torch.manual_seed seeds only the CPU one.
/// </summary>
public static class RandomState
{
    public static void Seed(long seed)
    {
        torch.manual_seed(seed);
        if (torch.cuda.is_available()) torch.cuda.manual_seed_all(seed);
    }
}

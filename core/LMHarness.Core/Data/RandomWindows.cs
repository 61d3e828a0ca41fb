using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Data;

/// <summary>
/// Random training batches as in nanoGPT's get_batch: each row is a window of T+1 consecutive ids starting at a
/// uniform random offset in the train split; X = window[0..T), Y = window[1..T+1) (next-token targets), both int64
/// (B, T). The generator is counter based and owned by the stream (never torch's global RNG): row r of batch n
/// starts at SplitMix64(seed, n*B + r) mapped onto [0, TrainTokens - T), so the state is (seed, batches drawn),
/// the same seed gives the same batches, and a restored <see cref="RandomWindowsState"/> continues the exact sequence.
/// </summary>
public sealed class RandomWindows
{
    readonly TokenFile _file;
    readonly long[] _x, _y, _starts;

    public RandomWindows(TokenFile file, int batchSize, int contextLength, long seed)
        : this(file, batchSize, contextLength, new RandomWindowsState(seed, 0)) { }

    public RandomWindows(TokenFile file, int batchSize, int contextLength, RandomWindowsState state)
    {
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), $"batch size must be > 0 (got {batchSize}).");
        if (contextLength <= 0) throw new ArgumentOutOfRangeException(nameof(contextLength), $"context length must be > 0 (got {contextLength}).");
        if (state.BatchesDrawn < 0) throw new ArgumentOutOfRangeException(nameof(state), $"batches drawn must be >= 0 (got {state.BatchesDrawn}).");
        if (file.TrainTokens < contextLength + 1)
            throw new ArgumentException(
                $"The train split of {file.Path} has {file.TrainTokens} tokens; a window of context {contextLength} needs {contextLength + 1}. Use a shorter context or a bigger corpus.");
        _file = file;
        BatchSize = batchSize;
        ContextLength = contextLength;
        Seed = state.Seed;
        BatchesDrawn = state.BatchesDrawn;
        _x = new long[batchSize * contextLength];
        _y = new long[batchSize * contextLength];
        _starts = new long[batchSize];
    }

    public int BatchSize { get; }
    public int ContextLength { get; }
    public long Seed { get; }
    public long BatchesDrawn { get; private set; }
    /// <summary>The state to save; a stream built from it draws the batch this one would draw next.</summary>
    public RandomWindowsState State => new(Seed, BatchesDrawn);

    /// <summary>The start offset (in the train split) of row <paramref name="row"/> of batch <paramref name="batch"/>.</summary>
    public long Offset(long batch, int row)
    {
        ulong counter = (ulong)batch * (ulong)BatchSize + (ulong)row;
        ulong z = SplitMix64((ulong)Seed + (counter + 1) * 0x9E3779B97F4A7C15UL);
        ulong range = (ulong)(_file.TrainTokens - ContextLength);
        return (long)(ulong)(((UInt128)z * range) >> 64); // Lemire's multiply-shift: uniform in [0, range)
    }

    static ulong SplitMix64(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The next batch: X and Y int64 (B, T) on the CPU; Y is X shifted left by one token.</summary>
    public (Tensor X, Tensor Y) Next()
    {
        NextInto(_x, _y);
        // Host batches: the trainer copies them to its device.
        return (torch.tensor(_x, [BatchSize, ContextLength], device: CPU), torch.tensor(_y, [BatchSize, ContextLength], device: CPU));
    }

    /// <summary>Fills the next batch into row-major (B*T) arrays without making tensors.</summary>
    public void NextInto(Span<long> x, Span<long> y)
    {
        if (x.Length != BatchSize * ContextLength || y.Length != BatchSize * ContextLength)
            throw new ArgumentException($"x and y must hold B*T = {BatchSize * ContextLength} ids.");
        for (int r = 0; r < BatchSize; r++) _starts[r] = Offset(BatchesDrawn, r);
        _file.CopyWindows(_starts, ContextLength, x, y);
        BatchesDrawn++;
    }
}

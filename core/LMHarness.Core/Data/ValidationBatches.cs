using System.Collections;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Data;

/// <summary>
/// The validation split cut into fixed, contiguous, non-overlapping windows: window k has inputs
/// ids[V + kT, V + kT + T) and targets shifted by one (V = start of the val split), for k = 0..(ValTokens-1)/T - 1.
/// Grouped B windows per batch (the last batch may be smaller). No randomness: every pass yields the same batches,
/// so validation losses of different runs and steps compare directly.
/// </summary>
public sealed class ValidationBatches : IEnumerable<(Tensor X, Tensor Y)>
{
    readonly TokenFile _file;

    /// <summary>Every window of the val split.</summary>
    public ValidationBatches(TokenFile file, int batchSize, int contextLength) : this(file, batchSize, contextLength, int.MaxValue) { }

    /// <summary>The first <paramref name="maxBatches"/> batches only (the same ones every time): bounds evaluation cost.</summary>
    public ValidationBatches(TokenFile file, int batchSize, int contextLength, int maxBatches)
    {
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), $"batch size must be > 0 (got {batchSize}).");
        if (contextLength <= 0) throw new ArgumentOutOfRangeException(nameof(contextLength), $"context length must be > 0 (got {contextLength}).");
        if (maxBatches <= 0) throw new ArgumentOutOfRangeException(nameof(maxBatches), $"max batches must be > 0 (got {maxBatches}).");
        long windows = file.ValTokens > 0 ? (file.ValTokens - 1) / contextLength : 0;
        if (windows == 0)
            throw new ArgumentException(
                $"The val split of {file.Path} has {file.ValTokens} tokens; one window of context {contextLength} needs {contextLength + 1}. Prepare with a larger val fraction or use a shorter context.");
        _file = file;
        BatchSize = batchSize;
        ContextLength = contextLength;
        Windows = Math.Min(windows, (long)maxBatches * batchSize);
    }

    public int BatchSize { get; }
    public int ContextLength { get; }
    /// <summary>Windows covered (each T tokens of the val split).</summary>
    public long Windows { get; }
    public int Count => (int)((Windows + BatchSize - 1) / BatchSize);

    public IEnumerator<(Tensor X, Tensor Y)> GetEnumerator()
    {
        int t = ContextLength;
        for (long first = 0; first < Windows; first += BatchSize)
        {
            var starts = new long[(int)Math.Min(BatchSize, Windows - first)];
            for (int r = 0; r < starts.Length; r++) starts[r] = _file.TrainTokens + (first + r) * t;
            yield return _file.Windows(starts, t);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

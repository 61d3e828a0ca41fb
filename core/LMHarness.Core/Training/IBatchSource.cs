using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace LMHarness.Training;

/// <summary>
/// Where the trainer's token batches come from. Training batches are drawn from the source's own seeded RNG (never
/// torch's global one) so that <see cref="SaveState"/> / <see cref="LoadState"/> make a resumed run draw exactly the
/// batches the uninterrupted run would have drawn. Validation batches are the same fixed batches on every call.
/// </summary>
public interface IBatchSource
{
    /// <summary>Next training batch: inputs X and next-token targets Y, both int64 (micro_batch, context_length).</summary>
    (Tensor X, Tensor Y) NextTrain();
    /// <summary>The first <paramref name="batches"/> validation batches, identical on every call.</summary>
    IEnumerable<(Tensor X, Tensor Y)> Validation(int batches);
    JsonNode SaveState();
    void LoadState(JsonNode state);
    /// <summary>What config.json records under "data" (must let <see cref="Trainer.Resume(string)"/> reopen the data).</summary>
    JsonNode Describe();
    /// <summary>The tokenizer identity as JSON, stored in checkpoints and compared on resume; null when unknown.</summary>
    JsonNode? Tokenizer { get; }
}

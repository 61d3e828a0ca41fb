using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace LMHarness.Training;

/// <summary>
/// Where the trainer's token batches come from. <see cref="SaveState"/> / <see cref="LoadState"/> (together with
/// the torch RNG state every checkpoint holds) make a resumed run draw exactly the batches the uninterrupted run
/// would have drawn. At each evaluation the trainer reads <see cref="TrainSample"/> first, then
/// <see cref="Validation"/> (nanoGPT's order, which a source replaying nanoGPT's random stream relies on).
/// Batches are CPU tensors; the trainer moves them to its device.
/// </summary>
public interface IBatchSource
{
    /// <summary>Next training batch: inputs X and next-token targets Y, both int64 (micro_batch, context_length).</summary>
    (Tensor X, Tensor Y) NextTrain();
    /// <summary>Batches of the train split for the training-loss estimate at an evaluation (the train_eval_loss column).</summary>
    IEnumerable<(Tensor X, Tensor Y)> TrainSample(int batches);
    /// <summary>Batches of the validation split for the validation loss at an evaluation.</summary>
    IEnumerable<(Tensor X, Tensor Y)> Validation(int batches);
    JsonNode SaveState();
    void LoadState(JsonNode state);
    /// <summary>What config.json records under "data": for a token file its path, tokenizer and split sizes, and the
    /// <c>stream</c> (<see cref="IRunStream.Name"/>) its batches follow, so <see cref="Trainer.Resume"/> can reopen it.</summary>
    JsonObject Describe();
    /// <summary>The tokenizer identity as JSON, stored in checkpoints and compared on resume; null when unknown.</summary>
    JsonNode? Tokenizer { get; }
}

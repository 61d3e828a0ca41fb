using System.Text.Json.Nodes;
using LMHarness.Config;

namespace LMHarness.Training.Checkpoints;

/// <summary>
/// The scalar part of a checkpoint: where the run is (optimizer steps done = schedule position, tokens seen, wall
/// time so far, best validation loss), what it is (model and training config, tokenizer identity) and the batch
/// sampler's state. Tensors (model, optimizer, torch RNG) sit beside it in the checkpoint file.
/// </summary>
public sealed record CheckpointState(
    long Step, long TokensSeen, double ElapsedSeconds, double? BestValLoss,
    ModelConfig Model, TrainingConfig Training, JsonNode? Tokenizer, JsonNode? Sampler);

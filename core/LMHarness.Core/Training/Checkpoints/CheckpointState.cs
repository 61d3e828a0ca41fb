using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using LMHarness.Config;

namespace LMHarness.Training.Checkpoints;

/// <summary>
/// The scalar part of a checkpoint: where the run is (optimizer steps done = schedule position, tokens seen, wall
/// time so far and the parts of it spent training and evaluating, best validation loss), what it is (model and
/// training config, tokenizer identity) and the batch source's state. Tensors (model, optimizer, torch RNG) sit
/// beside it in the checkpoint file. Checkpoints written before train/eval seconds were kept read them as elapsed and 0.
/// The memory peaks so far (the process high-water mark, and the device's where there is one) carry a run's peak across
/// resumes; older checkpoints have none (null).
/// </summary>
public sealed record CheckpointState(
    long Step, long TokensSeen, double ElapsedSeconds, double? BestValLoss,
    ModelConfig Model, TrainingConfig Training, JsonNode? Tokenizer, [property: JsonPropertyName("sampler")] JsonNode? BatchState)
{
    public double? TrainSeconds { get; init; }
    public double EvalSeconds { get; init; }
    public double? PeakRssMb { get; init; }
    public double? PeakGpuMb { get; init; }
}

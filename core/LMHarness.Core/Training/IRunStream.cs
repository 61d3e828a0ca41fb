using LMHarness.Config;
using LMHarness.Data;
using LMHarness.Model;
using static TorchSharp.torch;

namespace LMHarness.Training;

/// <summary>
/// Whose random stream a run follows: how its model is built and initialised, and which batches it sees. The
/// trainer seeds torch's generator with the run's seed, then asks the stream for the model and the batches; it knows
/// nothing else about them. The harness's own stream is <see cref="HarnessStream"/>; LMHarness.Replay's
/// <c>NanoGptStream</c> replays nanoGPT's train.py draw for draw. The stream's name is recorded in config.json
/// (data.stream) and a run resumes only with the stream it started with.
/// </summary>
public interface IRunStream
{
    /// <summary>"harness", "nanogpt", ...</summary>
    string Name { get; }

    /// <summary>The model with its initial weights, built just after <c>torch.manual_seed(seed)</c>.</summary>
    nn.Module<Tensor, Tensor> Build(ModelConfig model, long seed);

    /// <summary>The batches this stream draws from <paramref name="file"/> for <paramref name="training"/>.</summary>
    IBatchSource OpenBatches(TokenFile file, TrainingConfig training);

    /// <summary>The SHA-256 of the pretrained source whose weights <see cref="Build"/> returns (training.init_from_sha256);
    /// empty when it initialises at random. The trainer refuses to start an init_from run from weights of another source.</summary>
    string InitFromSha256 => "";

    /// <summary>The checkpoint whose optimizer state a fresh run with training.init_optimizer starts from (a harness
    /// checkpoint source's file); empty when there is none.</summary>
    string InitOptimizerFrom => "";
}

/// <summary>
/// The harness's own stream: GPT-2 initialisation in parameter order (<see cref="CausalLM"/>), random training windows
/// from the batch source's own counter-based generator, the first eval_batches windows of the validation split
/// (<see cref="TokenFileBatches"/>).
/// </summary>
public sealed class HarnessStream : IRunStream
{
    public static readonly HarnessStream Instance = new();
    public const string StreamName = "harness";

    public string Name => StreamName;
    public nn.Module<Tensor, Tensor> Build(ModelConfig model, long seed) => new CausalLM(model);
    public IBatchSource OpenBatches(TokenFile file, TrainingConfig training) =>
        new TokenFileBatches(file, training.MicroBatch, training.ContextLength, training.Seed);
}

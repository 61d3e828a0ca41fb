using LMHarness.Config;
using LMHarness.Data;
using LMHarness.Model;
using LMHarness.Training;
using static TorchSharp.torch;

namespace LMHarness.Replay;

/// <summary>
/// nanoGPT's train.py as a run stream: the model gets nanoGPT's initial weights for the seed
/// (<see cref="NanoGptInit"/>) and the trainer nanoGPT's batches and evaluation batches, drawn from torch's global
/// generator in nanoGPT's order (<see cref="NanoGptBatches"/>). Seed 1337 with preset nanogpt-cpu and nanoGPT's CPU
/// recipe gives nanoGPT's logged losses to 4 decimals.
/// </summary>
public sealed class NanoGptStream : IRunStream
{
    public static readonly NanoGptStream Instance = new();
    public const string StreamName = "nanogpt";

    public string Name => StreamName;

    public nn.Module<Tensor, Tensor> Build(ModelConfig model, long seed)
    {
        NanoGptInit.Require(model);
        var lm = new CausalLM(model);
        NanoGptInit.Apply(lm, seed);
        return lm;
    }

    public IBatchSource OpenBatches(TokenFile file, TrainingConfig training) =>
        new NanoGptBatches(file, training.MicroBatch, training.ContextLength);
}

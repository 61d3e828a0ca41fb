using System.Text.Json.Nodes;
using LMHarness.Config;
using LMHarness.Data;
using LMHarness.Tokenizers;
using static TorchSharp.torch;

namespace LMHarness.Training;

/// <summary>
/// The standard <see cref="IBatchSource"/>: random training windows from a token file's train split
/// (<see cref="RandomWindows"/>, seeded by the training seed, its own counter-based RNG), the first N fixed
/// windows of its validation split (<see cref="ValidationBatches"/>), and for the training-loss estimate N batches
/// of random train windows that are the same at every evaluation (a second window stream on a seed of their own).
/// </summary>
public sealed class TokenFileBatches : IBatchSource, IDisposable
{
    readonly TokenFile _file;
    readonly int _batch, _context;
    RandomWindows _windows;

    public TokenFileBatches(TokenFile file, int microBatch, int contextLength, long seed)
    {
        _file = file;
        _batch = microBatch;
        _context = contextLength;
        _windows = new RandomWindows(file, microBatch, contextLength, seed);
    }

    /// <summary>Opens <paramref name="tokenFile"/> for the micro-batch, context and seed of <paramref name="config"/>.</summary>
    public static TokenFileBatches Open(string tokenFile, TrainingConfig config) =>
        new(TokenFile.Open(tokenFile), config.MicroBatch, config.ContextLength, config.Seed);

    public TokenFile File => _file;
    public (Tensor X, Tensor Y) NextTrain() => _windows.Next();
    public IEnumerable<(Tensor X, Tensor Y)> Validation(int batches) => new ValidationBatches(_file, _batch, _context, batches);

    public IEnumerable<(Tensor X, Tensor Y)> TrainSample(int batches)
    {
        var windows = new RandomWindows(_file, _batch, _context, new RandomWindowsState(_windows.Seed ^ TrainSampleSeed, 0));
        for (var k = 0; k < batches; k++) yield return windows.Next();
    }

    // Any fixed value works; it only keeps the estimate's windows apart from the training stream of the same seed.
    const long TrainSampleSeed = 0x5EED_E5A1;
    public JsonNode SaveState() => JsonNode.Parse(_windows.State.ToJson())!;
    public void LoadState(JsonNode state) => _windows = new RandomWindows(_file, _batch, _context, RandomWindowsState.FromJson(state.ToJsonString()));
    public JsonNode? Tokenizer => JsonNode.Parse(_file.Tokenizer.ToJson());

    public JsonObject Describe()
    {
        var d = _file.Describe();
        d["stream"] = HarnessStream.StreamName;
        return d;
    }

    public void Dispose() => _file.Dispose();
}

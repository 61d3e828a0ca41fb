using System.Text.Json.Nodes;
using LMHarness.Config;
using LMHarness.Data;
using LMHarness.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Replay;

/// <summary>
/// nanoGPT's get_batch and estimate_loss over a token file (Karpathy, nanoGPT train.py): each batch is B windows
/// whose starts are <c>torch.randint(len(split) - T, (B,))</c> on torch's global generator, X = split[i, i+T) and
/// Y = split[i+1, i+T+1). Draws happen in nanoGPT's order: the first training batch before anything else; the next
/// one after the forward pass of the current one (nanoGPT prefetches it there, after that forward's dropout draws),
/// which here is the start of the next call of any kind; and an evaluation draws eval_batches fresh batches of the
/// train split, then eval_batches of the val split. Together with
/// <see cref="NanoGptInit"/> and the same seed, the trainer sees nanoGPT's batches one for one.
/// <para>State: the prefetched batch's starts (<see cref="SaveState"/>); the generator itself is saved and restored by
/// the checkpoint, so a resumed replay continues the same stream.</para>
/// </summary>
public sealed class NanoGptBatches : IBatchSource, IDisposable
{
    readonly TokenFile _file;
    readonly int _batch, _context;
    long[]? _next;

    public NanoGptBatches(TokenFile file, int microBatch, int contextLength)
    {
        if (microBatch <= 0) throw new ArgumentOutOfRangeException(nameof(microBatch), $"micro batch must be > 0 (got {microBatch}).");
        if (contextLength <= 0) throw new ArgumentOutOfRangeException(nameof(contextLength), $"context length must be > 0 (got {contextLength}).");
        foreach (var (split, tokens) in new[] { ("train", file.TrainTokens), ("val", file.ValTokens) })
            if (tokens < contextLength + 1)
                throw new ArgumentException($"The {split} split of {file.Path} has {tokens} tokens; a window of context {contextLength} needs {contextLength + 1}. Use a shorter context or a bigger corpus (and a val split).");
        _file = file;
        _batch = microBatch;
        _context = contextLength;
    }

    /// <summary>Opens <paramref name="tokenFile"/> for the micro-batch and context of <paramref name="config"/>.</summary>
    public static NanoGptBatches Open(string tokenFile, TrainingConfig config) =>
        new(TokenFile.Open(tokenFile), config.MicroBatch, config.ContextLength);

    public TokenFile File => _file;

    /// <summary>Starts (in the train split) of the next training batch's B windows; drawn now if it was not yet.</summary>
    public IReadOnlyList<long> PendingStarts => _next ??= Draw(_file.TrainTokens);

    public (Tensor X, Tensor Y) NextTrain()
    {
        var current = PendingStarts.ToArray();
        _next = null; // drawn at the next call, i.e. after this batch's forward pass, as nanoGPT does
        return Windows(current, 0);
    }

    /// <summary>nanoGPT's train-split estimate: <paramref name="batches"/> fresh random batches (call before <see cref="Validation"/>).</summary>
    public IEnumerable<(Tensor X, Tensor Y)> TrainSample(int batches)
    {
        _ = PendingStarts;
        for (var k = 0; k < batches; k++) yield return Windows(Draw(_file.TrainTokens), 0);
    }

    /// <summary>nanoGPT's val-split estimate: <paramref name="batches"/> fresh random batches.</summary>
    public IEnumerable<(Tensor X, Tensor Y)> Validation(int batches)
    {
        _ = PendingStarts;
        for (var k = 0; k < batches; k++) yield return Windows(Draw(_file.ValTokens), _file.TrainTokens);
    }

    long[] Draw(long splitTokens)
    {
        using var starts = torch.randint(splitTokens - _context, [_batch], dtype: ScalarType.Int64, device: CPU); // nanoGPT draws on the CPU generator
        return starts.data<long>().ToArray();
    }

    (Tensor X, Tensor Y) Windows(long[] starts, long splitOffset) =>
        _file.Windows(starts.Select(s => splitOffset + s).ToArray(), _context);

    public JsonNode SaveState() => new JsonObject { ["next"] = _next is null ? null : new JsonArray(_next.Select(s => (JsonNode)s).ToArray()) };

    public void LoadState(JsonNode state)
    {
        var next = state["next"]?.AsArray().Select(n => n!.GetValue<long>()).ToArray();
        if (next is not null && next.Length != _batch)
            throw new InvalidDataException($"The saved nanoGPT batch has {next.Length} windows but micro_batch is {_batch}: resume with the run's own training config.");
        _next = next;
    }

    public JsonNode? Tokenizer => JsonNode.Parse(_file.Tokenizer.ToJson());

    public JsonObject Describe()
    {
        var d = _file.Describe();
        d["stream"] = NanoGptStream.StreamName;
        return d;
    }

    public void Dispose() => _file.Dispose();
}

using System.Text.Json.Nodes;
using LMHarness.Config;
using LMHarness.Data;
using static TorchSharp.torch;

namespace LMHarness.Training;

/// <summary>
/// Any run stream, scored on the whole validation split: at every evaluation the validation loss is the mean of the
/// batch means over every window of the split (<see cref="ValidationBatches"/>: contiguous context-length windows,
/// micro_batch per batch, no randomness), whatever eval_batches says; eval_batches still sizes the train-split
/// estimate. Training batches, initial weights and the train estimate are the inner stream's, and the inner stream's
/// own validation batches are still drawn (then dropped) at each evaluation, so a stream that draws them from a
/// random generator (nanoGPT's replay) trains on exactly the batches it would have trained on without this wrapper.
/// This is how a target like "val loss ≤ 1.899 over the whole split" is measured during training: nanoGPT's 20-batch
/// estimate differs from the split by ±0.01 and more, which is the size of the gaps being timed.
/// <para>Its <see cref="Name"/> is the inner stream's with <see cref="Suffix"/>, so config.json records how the
/// validation column was computed, a run's identity differs from the inner stream's, and a run resumes only with it.</para>
/// </summary>
public sealed class WholeSplitValidation : IRunStream
{
    /// <summary>Appended to the inner stream's name.</summary>
    public const string Suffix = "+whole_val";

    readonly IRunStream _inner;

    WholeSplitValidation(IRunStream inner) => _inner = inner;

    /// <summary><paramref name="inner"/> scored on the whole validation split (itself when it already is).</summary>
    public static IRunStream Of(IRunStream inner) => inner is WholeSplitValidation ? inner : new WholeSplitValidation(inner);

    public string Name => _inner.Name + Suffix;

    public nn.Module<Tensor, Tensor> Build(ModelConfig model, long seed) => _inner.Build(model, seed);

    public IBatchSource OpenBatches(TokenFile file, TrainingConfig training) =>
        new Source(_inner.OpenBatches(file, training), new ValidationBatches(file, training.MicroBatch, training.ContextLength), Name);

    sealed class Source(IBatchSource inner, ValidationBatches split, string name) : IBatchSource
    {
        public (Tensor X, Tensor Y) NextTrain() => inner.NextTrain();
        public IEnumerable<(Tensor X, Tensor Y)> TrainSample(int batches) => inner.TrainSample(batches);

        public IEnumerable<(Tensor X, Tensor Y)> Validation(int batches)
        {
            // Draw what the inner stream would have drawn, in its order, so its generator state moves as it would.
            foreach (var (x, y) in inner.Validation(batches)) { x.Dispose(); y.Dispose(); }
            return split;
        }

        public JsonNode SaveState() => inner.SaveState();
        public void LoadState(JsonNode state) => inner.LoadState(state);
        public JsonNode? Tokenizer => inner.Tokenizer;

        public JsonObject Describe()
        {
            var d = inner.Describe();
            d["stream"] = name;
            return d;
        }
    }
}

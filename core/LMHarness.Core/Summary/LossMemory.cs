using System.Globalization;
using LMHarness.Config;
using LMHarness.Model;

namespace LMHarness.Summary;

/// <summary>
/// The next-token loss's share of a step's memory, a function of the rows whose fp32 logits exist at once: all B x T of
/// a micro-batch when the loss is computed from the full logits, one chunk when it is fused with the head.
/// <list type="bullet">
/// <item><see cref="PeakBytes"/>, at the loss's backward: rows x V x (4 logits + 4 log-probabilities + 4 their gradient
/// + 4 the logits' gradient) = 16 bytes a logit when the caller still holds the logits, 12 when it does not; a soft cap
/// adds the tanh it saves (+4).</item>
/// <item><see cref="HeldBytesPerMicroBatch"/>: logits the caller keeps after the loss, until the step ends (rows x V x 4
/// per micro-batch while it does).</item>
/// <item><see cref="EvaluationBytes"/>, without autograd: the logits and their log-probabilities, rows x V x 8 (16 with a
/// soft cap, whose intermediates live until the head returns; + 2 for bf16's head output beside them).</item>
/// </list>
/// The fused loss (<see cref="Fused"/>) holds tiles instead of the logits.
/// </summary>
public sealed record LossMemory(long Rows, long Vocab, long PeakBytes, long HeldBytesPerMicroBatch, long EvaluationBytes, string Description,
    string EvaluationDescription)
{
    /// <summary>
    /// The loss of a step of <paramref name="training"/> on <paramref name="model"/> as the trainer computes it: fused with
    /// the head where fused_loss says so (<see cref="FusedLinearCrossEntropy.Fuses"/>), else from a micro-batch's full
    /// (B, T, V) logits, which the step frees once the loss has its graph (<c>logitsHeld: false</c>).
    /// </summary>
    public static LossMemory For(ModelConfig model, TrainingConfig training)
    {
        long rows = (long)training.MicroBatch * training.ContextLength;
        return FusedLinearCrossEntropy.Fuses(training.FusedLoss, rows, model.VocabSize)
            ? Fused(rows, model.VocabSize, model.DModel, model.LogitSoftcap > 0, training.Dtype,
                    headTrains: ParameterShapes.Trains(ParameterShapes.HeadWeight(model), training.Freeze))
            : Logits(rows, model.VocabSize, model.LogitSoftcap > 0, training.Dtype, logitsHeld: false);
    }

    /// <summary>
    /// The fused loss over <paramref name="rows"/> rows (<see cref="FusedLinearCrossEntropy"/>), at its backward: the tile
    /// buffers it reuses (t = tile rows x tile ids fp32 logits, 4 t; their copy in the compute dtype, 2 t in bf16; the
    /// soft cap's slope, 4 t), dh summed in fp32 and cast once (rows x d x (4 + 2 in bf16)), dW in W's dtype
    /// (V x d x c), one vocabulary block of dW summed in fp32 when bf16 rows span several chunks, and the row
    /// logsumexps (4 x rows). A frozen head (<paramref name="headTrains"/> false) has no dW. Evaluation: the logits
    /// tiles, the row losses and logsumexps.
    /// </summary>
    public static LossMemory Fused(long rows, long vocab, long dModel, bool softcap, TrainingDtype dtype, bool headTrains = true)
    {
        if (rows <= 0 || vocab <= 0 || dModel <= 0) throw new ArgumentException($"rows, vocab and d_model must be > 0 (got {rows}, {vocab}, {dModel})");
        var tile = FusedLinearCrossEntropy.Tiles.For(rows, vocab);
        bool bf16 = dtype == TrainingDtype.Bf16;
        long c = bf16 ? 2 : 4, t = tile.Rows * tile.Vocab;
        long tileBytes = t * (4 + (bf16 ? 2 : 0));
        long buffers = tileBytes + (softcap ? 4 * t : 0);
        long dh = rows * dModel * (4 + (bf16 ? 2 : 0));
        long dW = headTrains ? vocab * dModel * c : 0;
        long block32 = headTrains && bf16 && rows > tile.Rows ? tile.Vocab * dModel * 4 : 0;
        var tileText = string.Create(CultureInfo.InvariantCulture, $"{tile.Rows:N0} x {tile.Vocab:N0}");
        return new LossMemory(rows, vocab, buffers + dh + dW + block32 + 4 * rows, 0, tileBytes + 8 * rows,
            string.Create(CultureInfo.InvariantCulture,
                $"fused: tiles of {tileText} logits {Mb(buffers)} + dh {Mb(dh)} + {(headTrains ? $"dW {Mb(dW)}" : "no dW (the head is frozen)")}{(block32 > 0 ? $" + a dW block in fp32 {Mb(block32)}" : "")}"),
            $"fused: a tile of {tileText} logits {Mb(tileBytes)} + row losses");
    }

    static string Mb(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1 << 20):N0} MB");

    /// <summary>
    /// The loss over <paramref name="rows"/> rows of <paramref name="vocab"/> fp32 logits at once (see the class summary).
    /// <paramref name="logitsHeld"/>: the caller keeps the logits tensor until the step ends.
    /// </summary>
    public static LossMemory Logits(long rows, long vocab, bool softcap, TrainingDtype dtype, bool logitsHeld)
    {
        if (rows <= 0 || vocab <= 0) throw new ArgumentException($"rows and vocab must be > 0 (got {rows}, {vocab})");
        long logits = rows * vocab;
        long peak = (logitsHeld ? 16 : 12) + (softcap ? 4 : 0);
        long evaluation = (softcap ? 16 : 8) + (softcap && dtype == TrainingDtype.Bf16 ? 2 : 0);
        return new LossMemory(rows, vocab, peak * logits, logitsHeld ? 4 * logits : 0, evaluation * logits,
            string.Create(CultureInfo.InvariantCulture, $"{peak} B x {rows:N0} rows x {vocab:N0} logits"),
            string.Create(CultureInfo.InvariantCulture, $"{evaluation} B x {rows:N0} rows x {vocab:N0}"));
    }
}

using System.Globalization;
using LMHarness.Config;

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
/// </summary>
public sealed record LossMemory(long Rows, long Vocab, long PeakBytes, long HeldBytesPerMicroBatch, long EvaluationBytes, string Description)
{
    /// <summary>
    /// The loss of a step of <paramref name="training"/> on <paramref name="model"/>, as the trainer computes it today.
    /// TrainStep computes it from the full (B, T, V) logits and keeps each micro-batch's logits (and loss) in the step's
    /// dispose scope until the step ends. This is where a fused loss is wired: <see cref="Logits"/> with its rows
    /// materialised at once (a chunk) and <c>logitsHeld: false</c>.
    /// </summary>
    public static LossMemory For(ModelConfig model, TrainingConfig training) =>
        Logits((long)training.MicroBatch * training.ContextLength, model.VocabSize, model.LogitSoftcap > 0, training.Dtype, logitsHeld: true);

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
            string.Create(CultureInfo.InvariantCulture, $"{peak} B x {rows:N0} rows x {vocab:N0} logits"));
    }
}

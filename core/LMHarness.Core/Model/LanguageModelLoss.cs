using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Model;

/// <summary>
/// Next-token cross-entropy, the one loss of LMHarness (training, evaluation, perplexity): for logits z (B, T, V)
/// and targets y (B, T), the loss of a position is -log softmax(z)[y] = logsumexp(z) - z[y] nats, computed in fp32
/// whatever the model's dtype (a bf16 log-softmax over tens of thousands of classes loses the small differences the
/// loss is made of). Targets equal to <see cref="IgnoreIndex"/> (padding, prompt tokens) do not count.
/// </summary>
public static class LanguageModelLoss
{
    /// <summary>Targets equal to this are skipped.</summary>
    public const long IgnoreIndex = -1;

    /// <summary>Mean over the counted positions: a scalar.</summary>
    public static Tensor Mean(Tensor logits, Tensor targets) => Compute(logits, targets, nn.Reduction.Mean);

    /// <summary>Sum over the counted positions: a scalar (for losses pooled over batches of different sizes).</summary>
    public static Tensor Sum(Tensor logits, Tensor targets) => Compute(logits, targets, nn.Reduction.Sum);

    /// <summary>One loss per position (B, T); ignored positions are 0.</summary>
    public static Tensor PerPosition(Tensor logits, Tensor targets) =>
        Compute(logits, targets, nn.Reduction.None).view(targets.shape);

    static Tensor Compute(Tensor logits, Tensor targets, nn.Reduction reduction)
    {
        if (!targets.shape.SequenceEqual(logits.shape[..^1]))
            throw new ArgumentException($"targets shape [{string.Join(", ", targets.shape)}] must equal the logits' leading shape [{string.Join(", ", logits.shape[..^1])}]");
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]).to(ScalarType.Float32), targets.reshape(-1),
            ignore_index: IgnoreIndex, reduction: reduction);
    }
}

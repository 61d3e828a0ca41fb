using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Model;

/// <summary>
/// Logit soft-capping (Gemma 2, Team Gemma 2024, "Gemma 2: Improving Open Language Models at a Practical Size";
/// modded-nanogpt, Keller Jordan et al. 2024, cap 30, later 15): logits = c tanh(logits / c). Near 0 it is the
/// identity (slope 1), and no logit can leave (-c, c), so the model cannot buy a lower loss by inflating the
/// logits of tokens it already predicts well. Applied by <see cref="CausalLM"/>'s head, so the training loss,
/// evaluation and generation all see the capped logits.
/// </summary>
public static class LogitSoftcap
{
    /// <summary>c tanh(logits / c); <paramref name="cap"/> = 0 returns the logits unchanged.</summary>
    public static Tensor Apply(Tensor logits, double cap)
    {
        if (cap <= 0) return logits;
        using Scalar c = cap;
        return logits.div(c).tanh().mul(c);
    }
}

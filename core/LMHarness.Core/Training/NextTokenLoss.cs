using LMHarness.Config;
using LMHarness.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Training;

/// <summary>
/// The next-token loss of a training step or an evaluation batch: fused with the head
/// (<see cref="CausalLM.FusedLoss"/>, <see cref="FusedLinearCrossEntropy"/>) when the module is a <see cref="CausalLM"/>
/// and fused_loss says so, else through the full logits (<see cref="LanguageModelLoss"/>), as before the knob.
/// <para>auto fuses when the batch's fp32 logits (B·T·vocab·4 bytes) would be more than one tile
/// (<see cref="FusedLinearCrossEntropy.Tiles.Bytes"/>, 32 MB). At one tile or less the fused path computes that one
/// tile anyway and pays for the head's matmul a second time in backward: 0.91-0.95x the tokens/s for 25 MB saved
/// (GPT-2 vocabulary, d128, 1 x 64), and nothing saved at a character vocabulary. Above it, the logits never exist at once and
/// the step ran at 0.97-1.16x (d128 at 4 x 64 and 12 x 64, gpt2-124M at 4 x 512, llama3-220M bf16 at 2 x 256;
/// docs/training.md, bench fused-loss). So character-level runs (nanogpt-cpu: 12 x 64 x 65 x 4 = 0.2 MB) stay on the
/// logits path exactly as they were, and the nanoGPT replay with them.</para>
/// </summary>
public static class NextTokenLoss
{
    /// <summary>Whether a batch idx (B,T) of <paramref name="model"/> takes the fused path under <paramref name="mode"/>.</summary>
    public static bool Fused(FusedLossMode mode, nn.Module<Tensor, Tensor> model, Tensor idx) =>
        model is CausalLM lm && FusedLinearCrossEntropy.Fuses(mode, idx.numel(), lm.Config.VocabSize);

    /// <summary>Mean loss of idx against targets (B,T), with a graph when autograd is on.</summary>
    public static Tensor Mean(nn.Module<Tensor, Tensor> model, Tensor idx, Tensor targets, FusedLossMode mode)
    {
        if (Fused(mode, model, idx)) return ((CausalLM)model).FusedLoss(idx, targets, nn.Reduction.Mean);
        using var scope = NewDisposeScope();
        return LanguageModelLoss.Mean(model.forward(idx), targets).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// For evaluation (no graph): the mean loss, and with <paramref name="perPosition"/> also the per-position losses
    /// (B,T), from one forward.
    /// </summary>
    public static (Tensor Mean, Tensor? PerPosition) Evaluate(nn.Module<Tensor, Tensor> model, Tensor idx, Tensor targets, FusedLossMode mode, bool perPosition)
    {
        using var scope = NewDisposeScope();
        Tensor mean;
        Tensor? positions = null;
        if (Fused(mode, model, idx))
        {
            positions = ((CausalLM)model).FusedLoss(idx, targets, nn.Reduction.None);
            using Scalar ignore = LanguageModelLoss.IgnoreIndex;
            mean = positions.sum().div(targets.ne(ignore).sum().to(ScalarType.Float32)); // ignored positions are 0
        }
        else
        {
            var logits = model.forward(idx);
            mean = LanguageModelLoss.Mean(logits, targets);
            if (perPosition) positions = LanguageModelLoss.PerPosition(logits, targets);
        }
        return (mean.MoveToOuterDisposeScope(), perPosition ? positions!.MoveToOuterDisposeScope() : null);
    }
}

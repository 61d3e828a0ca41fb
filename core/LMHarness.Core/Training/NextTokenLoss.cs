using LMHarness.Config;
using LMHarness.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Training;

/// <summary>
/// The next-token loss of a training step or an evaluation batch: fused with the head
/// (<see cref="CausalLM.FusedLoss"/>, <see cref="FusedLinearCrossEntropy"/>) when the module is a <see cref="CausalLM"/>
/// and fused_loss says so, else through the full logits (<see cref="LanguageModelLoss"/>), as before the knob.
/// <para>auto fuses when the batch's fp32 logits (B·T·vocab·4 bytes) would not fit in one chunk
/// (<see cref="FusedLinearCrossEntropy.Tiles.Bytes"/>). Below that the fused path computes the same single chunk and
/// saves nothing, and it pays for the head's matmul a second time in backward; above it, it never holds more than a
/// chunk of the logits, and on the CPU it was measured no slower (docs/training.md, bench fused-loss). A character
/// vocabulary's runs (nanogpt-cpu: 12 x 64 x 65 x 4 = 0.2 MB) therefore stay on the logits path exactly as they were.</para>
/// </summary>
public static class NextTokenLoss
{
    /// <summary>Whether a batch idx (B,T) of <paramref name="model"/> takes the fused path under <paramref name="mode"/>.</summary>
    public static bool Fused(FusedLossMode mode, nn.Module<Tensor, Tensor> model, Tensor idx) => model is CausalLM lm && mode switch
    {
        FusedLossMode.On => true,
        FusedLossMode.Off => false,
        _ => idx.numel() * lm.Config.VocabSize * 4L > FusedLinearCrossEntropy.Tiles.Bytes,
    };

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

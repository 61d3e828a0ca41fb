using LMHarness.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Analysis;

/// <summary>
/// The residual stream of a <see cref="CausalLM"/> at every depth: h_0 = token embedding (+ learned positions),
/// h_{i+1} = block_i(h_i), for i = 0 .. n_layer - 1 (before the final norm, as in HF's output_hidden_states except
/// that HF applies the final norm to the last entry; with U-net skips, h_{i+1} is block i's output, before any skip
/// is added to the next block's input). Taken from the model's own forward, so it matches forward exactly:
/// Head(norm(h_L)) are the logits. Inference only (no autograd, eval mode for the call).
/// </summary>
public static class HiddenStates
{
    /// <summary>n_layer + 1 tensors (B, T, d_model): the embedding output, then the output of each block.</summary>
    public static IReadOnlyList<Tensor> Compute(CausalLM model, Tensor idx)
    {
        if (idx.dim() != 2 || idx.dtype != ScalarType.Int64)
            throw new ArgumentException($"idx must be (batch, time) int64 token ids; got {idx.dtype} [{string.Join(", ", idx.shape)}]");
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = torch.no_grad();
            var states = new List<Tensor>();
            // Each state leaves the forward's dispose scope for the caller's, as the forward's own result does.
            using (model.Body.Hidden(idx, 0, null, null, (_, x) => states.Add(x.detach().MoveToOuterDisposeScope()))) { }
            return states;
        }
        finally
        {
            if (wasTraining) model.train();
        }
    }
}

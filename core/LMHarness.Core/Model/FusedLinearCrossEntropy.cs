using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace LMHarness.Model;

/// <summary>
/// Next-token cross-entropy straight from the final hidden states h (N, d) and the head weight W (V, d), in chunks of
/// rows, forward and backward, so the (N, V) fp32 logits and their gradient never exist at once (N = B·T positions,
/// V the vocabulary). The loss of row i is
/// <code>
///   loss_i = logsumexp(z_i) - z_i[y_i],    z = cap·tanh(h W^T / cap)   (z = h W^T when there is no soft cap)
/// </code>
/// summed, or averaged over the rows whose target is not <see cref="LanguageModelLoss.IgnoreIndex"/>. Its gradient,
/// with g the incoming gradient of the loss (divided by the count of counted rows for the mean), is
/// <code>
///   dz = g·(softmax(z) - onehot(y))   (0 on ignored rows),   dlogits = dz·(1 - (z/cap)²),   dh = dlogits W,   dW = dlogits^T h.
/// </code>
/// Forward keeps h, W, the targets and the N per-row logsumexps; backward recomputes each chunk's logits from them
/// (softmax(z) = exp(z - logsumexp)), so what the loss holds at its peak is a few (rows, V) chunks. The head's
/// matmul runs in the compute dtype and everything after it in fp32, as in <see cref="LanguageModelLoss"/>; dW is
/// accumulated over the chunks in fp32 and cast once at the end.
/// <para>Anchors: Wijmans et al. 2024, "Cut Your Losses in Large-Vocabulary Language Models" (Apple's Cut
/// Cross-Entropy: the loss's memory for Gemma 2 2B from 24 GB to 1 MB); torchtune's CEWithChunkedOutputLoss (the
/// logits in chunks of rows); Liger-Kernel's fused linear cross-entropy (Hsu et al. 2024, chunked head matmul and
/// loss, gradients from the chunk's softmax).</para>
/// <para>Memory ownership follows <see cref="ActivationRecompute"/>: backward runs in a dispose scope of its own,
/// and the gradients it returns go to <see cref="HandedGradients"/>; every native Scalar is created and disposed
/// explicitly (TorchSharp's implicit conversions leave them to the finalizer).</para>
/// </summary>
public static class FusedLinearCrossEntropy
{
    /// <summary>Bytes of one chunk's fp32 logits by default (<see cref="ChunkRows"/>).</summary>
    public const long ChunkBytes = 32L << 20;

    /// <summary>Rows per chunk: as many as keep one chunk's fp32 logits near <see cref="ChunkBytes"/>, at least 1.</summary>
    public static long ChunkRows(long vocab) => Math.Max(1, ChunkBytes / (4 * vocab));

    /// <summary>Mean loss over the counted rows (a scalar, fp32). h (..., d) and targets (...) share their leading shape.</summary>
    public static Tensor Mean(Tensor h, Tensor weight, Tensor targets, double softcap, long chunkRows = 0) =>
        Reduced(h, weight, targets, softcap, chunkRows, mean: true);

    /// <summary>Summed loss over the counted rows (a scalar, fp32).</summary>
    public static Tensor Sum(Tensor h, Tensor weight, Tensor targets, double softcap, long chunkRows = 0) =>
        Reduced(h, weight, targets, softcap, chunkRows, mean: false);

    /// <summary>
    /// One loss per position (targets' shape, fp32; ignored positions 0), without a graph: for evaluation under
    /// <c>no_grad</c> (bits per byte need every position's loss).
    /// </summary>
    public static Tensor PerPosition(Tensor h, Tensor weight, Tensor targets, double softcap, long chunkRows = 0)
    {
        if (is_grad_enabled() && (h.requires_grad || weight.requires_grad))
            throw new InvalidOperationException("FusedLinearCrossEntropy.PerPosition has no backward: call it under no_grad, or use Mean or Sum.");
        using var scope = NewDisposeScope();
        var (h2, y) = Flatten(h, weight, targets);
        var (losses, _) = Forward(h2, weight, y, new Head(softcap, Rows(chunkRows, weight)));
        return losses.view(targets.shape).MoveToOuterDisposeScope();
    }

    static Tensor Reduced(Tensor h, Tensor weight, Tensor targets, double softcap, long chunkRows, bool mean)
    {
        using var scope = NewDisposeScope();
        var (h2, y) = Flatten(h, weight, targets);
        var head = new Head(softcap, Rows(chunkRows, weight), mean);
        var loss = is_grad_enabled() && (h2.requires_grad || weight.requires_grad)
            ? Function.apply(h2, weight, y, head)
            : Reduce(Forward(h2, weight, y, head).Losses, y, mean);
        return loss.MoveToOuterDisposeScope();
    }

    static long Rows(long chunkRows, Tensor weight) => chunkRows > 0 ? chunkRows : ChunkRows(weight.shape[0]);

    /// <summary>h (..., d) -> (N, d); targets (...) -> (N,).</summary>
    static (Tensor H, Tensor Y) Flatten(Tensor h, Tensor weight, Tensor targets)
    {
        if (weight.dim() != 2 || h.shape[^1] != weight.shape[1])
            throw new ArgumentException($"the head weight must be (vocab, {h.shape[^1]}), got [{string.Join(", ", weight.shape)}]");
        if (!targets.shape.SequenceEqual(h.shape[..^1]))
            throw new ArgumentException($"targets shape [{string.Join(", ", targets.shape)}] must equal the hidden states' leading shape [{string.Join(", ", h.shape[..^1])}]");
        return (h.reshape(-1, h.shape[^1]), targets.reshape(-1));
    }

    /// <summary>Σ of the row losses, divided by the number of counted rows for the mean (NaN when none counts, as cross_entropy).</summary>
    static Tensor Reduce(Tensor losses, Tensor targets, bool mean)
    {
        using var scope = NewDisposeScope();
        var sum = losses.sum();
        return (mean ? sum.div(Counted(targets).sum().to(ScalarType.Float32)) : sum).MoveToOuterDisposeScope();
    }

    /// <summary>targets (N,) -> bool (N,): true where the row counts.</summary>
    static Tensor Counted(Tensor targets)
    {
        using Scalar ignore = LanguageModelLoss.IgnoreIndex;
        return targets.ne(ignore);
    }

    /// <summary>targets (N,) with ignored entries replaced by 0, so they can index a row (their loss is masked).</summary>
    static Tensor Indexable(Tensor targets, Tensor counted)
    {
        using Scalar zero = 0L;
        using var ignored = counted.logical_not();
        return targets.masked_fill(ignored, zero);
    }

    /// <summary>
    /// Row losses (N,) fp32 (0 where ignored) and row logsumexps (N,) fp32, one chunk of rows at a time.
    /// </summary>
    static (Tensor Losses, Tensor LogSumExp) Forward(Tensor h, Tensor weight, Tensor targets, Head head)
    {
        using var scope = NewDisposeScope();
        long n = h.shape[0];
        var losses = empty(n, ScalarType.Float32, h.device);
        var lse = empty(n, ScalarType.Float32, h.device);
        var counted = Counted(targets);
        var index = Indexable(targets, counted);
        using Scalar zero = 0.0f, one = 1.0f;
        for (long r = 0; r < n; r += head.Rows)
        {
            using var chunk = NewDisposeScope();
            long rows = Math.Min(head.Rows, n - r);
            var z = head.Logits(h.narrow(0, r, rows), weight);                          // (rows, V) fp32
            var target = z.gather(1, index.narrow(0, r, rows).unsqueeze(1)).squeeze(1);  // z_i[y_i]  (rows,)
            // logsumexp in place (max + log Σ exp(z - max)): torch's logsumexp would allocate another (rows, V).
            var max = z.amax([1], keepdim: true);                                         // (rows, 1)
            var lseRows = z.sub_(max).exp_().sum(1).log_().add_(max.squeeze(1), one);     // (rows,)
            lse.narrow(0, r, rows).copy_(lseRows);
            losses.narrow(0, r, rows).copy_(lseRows.sub_(target).masked_fill_(counted.narrow(0, r, rows).logical_not(), zero));
        }
        return (losses.MoveToOuterDisposeScope(), lse.MoveToOuterDisposeScope());
    }

    /// <summary>The non-tensor arguments of one call: the soft cap, the rows per chunk and the reduction.</summary>
    sealed class Head(double softcap, long rows, bool mean = true)
    {
        public long Rows { get; } = rows;
        public bool Mean { get; } = mean;
        public double Softcap { get; } = softcap;

        /// <summary>h (rows, d), W (V, d) -> z (rows, V) fp32: the head's matmul in the compute dtype, then the cap in fp32.</summary>
        public Tensor Logits(Tensor h, Tensor weight)
        {
            var z = nn.functional.linear(h, weight);
            if (z.dtype != ScalarType.Float32)
            {
                using var raw = z; // a bf16 chunk need not outlive its fp32 copy
                z = raw.to(ScalarType.Float32);
            }
            if (Softcap <= 0) return z;
            using Scalar cap = Softcap;
            return z.div_(cap).tanh_().mul_(cap);
        }

        /// <summary>z (rows, V) capped logits -> d z / d raw = 1 - (z/cap)² (rows, V); null without a cap.</summary>
        public Tensor? CapSlope(Tensor z)
        {
            if (Softcap <= 0) return null;
            using Scalar negInvCapSq = -1.0 / (Softcap * Softcap), one = 1.0;
            return z.mul(z).mul_(negInvCapSq).add_(one, one);
        }
    }

    private sealed class Function : SingleTensorFunction<Function>
    {
        public override string Name => nameof(FusedLinearCrossEntropy);

        public override Tensor forward(AutogradContext ctx, params object[] vars)
        {
            var (h, weight, targets, head) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Head)vars[3]);
            var (losses, lse) = Forward(h, weight, targets, head);
            ctx.save_for_backward([h, weight, targets, lse]); // lse is the caller's scope's; the saved variable keeps it
            ctx.save_data(nameof(Head), head);
            return Reduce(losses, targets, head.Mean);
        }

        public override List<Tensor> backward(AutogradContext ctx, Tensor gradOutput)
        {
            HandedGradients.ReleaseThisThread();
            var head = (Head)ctx.get_data(nameof(Head));
            using var scope = NewDisposeScope(); // on CUDA this runs on autograd's thread: everything made here is freed here
            var saved = ctx.get_saved_variables();
            var (h, weight, targets, lse) = (saved[0], saved[1], saved[2], saved[3]);
            long n = h.shape[0];
            var counted = Counted(targets);
            var index = Indexable(targets, counted);
            // Each row's share of the incoming gradient: g (/ count for the mean) where the row counts, else 0.  (N,)
            var scale = head.Mean ? gradOutput.div(counted.sum().to(ScalarType.Float32)) : gradOutput;
            var rowScale = counted.to(ScalarType.Float32).mul_(scale);
            var dh = empty_like(h);                                                           // (N, d), h's dtype
            var dW = zeros(weight.shape, ScalarType.Float32, weight.device);                  // (V, d), fp32
            for (long r = 0; r < n; r += head.Rows)
            {
                using var chunk = NewDisposeScope();
                long rows = Math.Min(head.Rows, n - r);
                var hRows = h.narrow(0, r, rows);
                var z = head.Logits(hRows, weight);                                          // (rows, V) fp32
                var slope = head.CapSlope(z);
                var w = rowScale.narrow(0, r, rows).unsqueeze(1);                            // (rows, 1)
                var dz = z.sub_(lse.narrow(0, r, rows).unsqueeze(1)).exp_().mul_(w);         // g·softmax(z), in place
                dz.scatter_add_(1, index.narrow(0, r, rows).unsqueeze(1), w.neg());         // - g·onehot(y)
                if (slope is not null) dz.mul_(slope);                                       // dlogits
                dh.narrow(0, r, rows).copy_(dz.to(h.dtype).mm(weight));                      // (rows, d)
                dW.addmm_(dz.t(), hRows.to(ScalarType.Float32));                             // += (V, rows)(rows, d)
            }
            var dWeight = weight.dtype == ScalarType.Float32 ? dW : dW.to(weight.dtype);  // the one cast
            var handed = new List<Tensor> { dh.DetachFromDisposeScope(), dWeight.DetachFromDisposeScope() };
            HandedGradients.Hand(handed);
            gradOutput.Dispose(); // TorchSharp wrapped it for this call; autograd holds its own reference
            return [handed[0], handed[1], null!, null!];
        }
    }
}

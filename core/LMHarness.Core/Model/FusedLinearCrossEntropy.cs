using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace LMHarness.Model;

/// <summary>
/// Next-token cross-entropy straight from the final hidden states h (N, d) and the head weight W (V, d), tile by
/// tile, forward and backward, so the (N, V) fp32 logits and their gradient never exist at once (N = B·T positions,
/// V the vocabulary). The loss of row i is
/// <code>
///   loss_i = logsumexp(z_i) - z_i[y_i],    z = cap·tanh(h W^T / cap)   (z = h W^T when there is no soft cap)
/// </code>
/// summed, or averaged over the rows whose target is not <see cref="LanguageModelLoss.IgnoreIndex"/>. Its gradient,
/// with g the incoming gradient of the loss (divided by the count of counted rows for the mean), is
/// <code>
///   dz = g·(softmax(z) - onehot(y))   (0 on ignored rows),   dlogits = dz·(1 - (z/cap)²),   dh = dlogits W,   dW = dlogits^T h.
/// </code>
/// The rows go in chunks, and each chunk's logits in blocks of the vocabulary (<see cref="Tiles"/>): forward keeps a
/// running max and Σ exp per row across the blocks (an online logsumexp) and the target's logit from the block that
/// holds it, and saves h, W, the targets and the N row logsumexps; backward recomputes each tile's logits from them
/// (softmax(z) = exp(z - logsumexp)), so what the loss holds at its peak is a tile or two. Blocking the vocabulary
/// keeps every matmul large on both sides (a thin chunk of rows against all of W ran ~3x below the GEMM's speed
/// here) and each tile in cache. The head's matmul runs in the compute dtype and everything after it in fp32, as in
/// <see cref="LanguageModelLoss"/>. Backward's products run in the compute dtype too, as the logits path's do, and
/// dh and each block of dW sum them in fp32 and are cast once.
/// <para>Anchors: Wijmans et al. 2024, "Cut Your Losses in Large-Vocabulary Language Models" (Apple's Cut
/// Cross-Entropy: vocabulary blocks with an online logsumexp, the loss's memory for Gemma 2 2B from 24 GB to 1 MB);
/// torchtune's CEWithChunkedOutputLoss (the logits in chunks of rows); Liger-Kernel's fused linear cross-entropy
/// (Hsu et al. 2024: chunked head matmul and loss, gradients from the chunk's softmax).</para>
/// <para>Memory ownership follows <see cref="ActivationRecompute"/>: backward runs in a dispose scope of its own,
/// and the gradients it returns go to <see cref="HandedGradients"/>; every native Scalar is created and disposed
/// explicitly (TorchSharp's implicit conversions leave them to the finalizer).</para>
/// </summary>
public static class FusedLinearCrossEntropy
{
    /// <summary>
    /// The tile: rows per chunk and vocabulary ids per block. <see cref="For"/> takes up to <see cref="MaxRows"/> rows
    /// and as many ids as keep the tile's fp32 logits near <see cref="Bytes"/>.
    /// </summary>
    public sealed record Tiles(long Rows, long Vocab)
    {
        /// <summary>Bytes of one tile's fp32 logits.</summary>
        public const long Bytes = 32L << 20;
        public const long MaxRows = 4096;

        /// <summary>The default tile for N rows and a vocabulary of V ids.</summary>
        public static Tiles For(long n, long vocab)
        {
            long rows = Math.Clamp(n, 1, MaxRows);
            return new(rows, Math.Clamp(Bytes / (4 * rows), Math.Min(256, vocab), vocab));
        }
    }

    /// <summary>
    /// Whether a batch of <paramref name="rows"/> positions over a vocabulary of <paramref name="vocab"/> ids takes the fused
    /// path under <paramref name="mode"/>. auto fuses when the batch's fp32 logits (rows · vocab · 4 bytes) would be more
    /// than one tile: at one tile or less the fused path computes that tile anyway and pays for the head's matmul again
    /// in backward (0.91-0.95x the tokens/s for 25 MB saved at the GPT-2 vocabulary, d128, 1 x 64; nothing saved at a
    /// character vocabulary), above it the logits never exist at once and the step ran at 0.97-1.16x (docs/training.md).
    /// </summary>
    public static bool Fuses(LMHarness.Config.FusedLossMode mode, long rows, long vocab) => mode switch
    {
        LMHarness.Config.FusedLossMode.On => true,
        LMHarness.Config.FusedLossMode.Off => false,
        _ => rows * vocab * 4 > Tiles.Bytes,
    };

    /// <summary>Mean loss over the counted rows (a scalar, fp32). h (..., d) and targets (...) share their leading shape.</summary>
    public static Tensor Mean(Tensor h, Tensor weight, Tensor targets, double softcap, Tiles? tiles = null) =>
        Reduced(h, weight, targets, softcap, tiles, mean: true);

    /// <summary>Summed loss over the counted rows (a scalar, fp32).</summary>
    public static Tensor Sum(Tensor h, Tensor weight, Tensor targets, double softcap, Tiles? tiles = null) =>
        Reduced(h, weight, targets, softcap, tiles, mean: false);

    /// <summary>
    /// One loss per position (targets' shape, fp32; ignored positions 0), without a graph: for evaluation under
    /// <c>no_grad</c> (bits per byte need every position's loss).
    /// </summary>
    public static Tensor PerPosition(Tensor h, Tensor weight, Tensor targets, double softcap, Tiles? tiles = null)
    {
        if (is_grad_enabled() && (h.requires_grad || weight.requires_grad))
            throw new InvalidOperationException("FusedLinearCrossEntropy.PerPosition has no backward: call it under no_grad, or use Mean or Sum.");
        using var scope = NewDisposeScope();
        var (h2, y) = Flatten(h, weight, targets);
        var (losses, _) = Forward(h2, weight, y, new Head(softcap, tiles ?? Tiles.For(h2.shape[0], weight.shape[0])));
        return losses.view(targets.shape).MoveToOuterDisposeScope();
    }

    static Tensor Reduced(Tensor h, Tensor weight, Tensor targets, double softcap, Tiles? tiles, bool mean)
    {
        using var scope = NewDisposeScope();
        var (h2, y) = Flatten(h, weight, targets);
        var head = new Head(softcap, tiles ?? Tiles.For(h2.shape[0], weight.shape[0]), mean);
        var loss = is_grad_enabled() && (h2.requires_grad || weight.requires_grad)
            ? Function.apply(h2, weight, y, head)
            : Reduce(Forward(h2, weight, y, head).Losses, y, mean);
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>h (..., d) -> (N, d); targets (...) -> (N,).</summary>
    static (Tensor H, Tensor Y) Flatten(Tensor h, Tensor weight, Tensor targets)
    {
        if (weight.dim() != 2 || h.shape[^1] != weight.shape[1])
            throw new ArgumentException($"the head weight must be (vocab, {h.shape[^1]}), got [{string.Join(", ", weight.shape)}]");
        if (weight.dtype != h.dtype)
            throw new ArgumentException($"the hidden states ({h.dtype}) and the head weight ({weight.dtype}) must share the compute dtype");
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

    /// <summary>sum (fp32) = product, or += product (any dtype: added in fp32).</summary>
    static void Accumulate(Tensor sum, Tensor product, bool first)
    {
        using var _ = product;
        if (first) { sum.copy_(product); return; }
        using Scalar one = 1.0f;
        sum.add_(product, one);
    }

    /// <summary>targets (N,) -> bool (N,): true where the row counts.</summary>
    static Tensor Counted(Tensor targets)
    {
        using Scalar ignore = LanguageModelLoss.IgnoreIndex;
        return targets.ne(ignore);
    }

    /// <summary>
    /// Row losses (N,) fp32 (0 where ignored) and row logsumexps (N,) fp32, tile by tile.
    /// </summary>
    static (Tensor Losses, Tensor LogSumExp) Forward(Tensor h, Tensor weight, Tensor targets, Head head)
    {
        using var scope = NewDisposeScope();
        long n = h.shape[0], vocab = weight.shape[0];
        var losses = empty(n, ScalarType.Float32, h.device);
        var lse = empty(n, ScalarType.Float32, h.device);
        var counted = Counted(targets);
        var scratch = new Scratch(head, h, weight, capSlope: false);
        using Scalar zero = 0.0f, one = 1.0f, minusInf = float.NegativeInfinity;
        for (long r = 0; r < n; r += head.Tiles.Rows)
        {
            using var chunk = NewDisposeScope();
            long rows = Math.Min(head.Tiles.Rows, n - r);
            var hRows = h.narrow(0, r, rows);
            var max = full(rows, minusInf, ScalarType.Float32, h.device);               // running max of z_i  (rows,)
            var sumExp = zeros(rows, ScalarType.Float32, h.device);                     // running Σ exp(z_i - max)
            var target = zeros(rows, ScalarType.Float32, h.device);                     // z_i[y_i]
            for (long v = 0; v < vocab; v += head.Tiles.Vocab)
            {
                using var block = NewDisposeScope();
                var ids = new Block(v, Math.Min(head.Tiles.Vocab, vocab - v), targets.narrow(0, r, rows));
                var z = scratch.Logits(hRows, weight.narrow(0, v, ids.Count));            // (rows, block) fp32
                target.add_(z.gather(1, ids.Local).mul_(ids.Holds).squeeze(1), one);          // the block holding y_i adds z_i[y_i]
                var blockMax = torch.maximum(max, z.amax([1]));                           // (rows,)
                sumExp.mul_(max.sub_(blockMax).exp_());                                   // rescale to the new max
                sumExp.add_(z.sub_(blockMax.unsqueeze(1)).exp_().sum(1), one);            // z is spent: exp in place
                max.copy_(blockMax);
            }
            var lseRows = sumExp.log_().add_(max, one);                                   // (rows,)
            lse.narrow(0, r, rows).copy_(lseRows);
            losses.narrow(0, r, rows).copy_(lseRows.sub_(target).masked_fill_(counted.narrow(0, r, rows).logical_not(), zero));
        }
        return (losses.MoveToOuterDisposeScope(), lse.MoveToOuterDisposeScope());
    }

    /// <summary>The non-tensor arguments of one call: the soft cap, the tile and the reduction.</summary>
    sealed class Head(double softcap, Tiles tiles, bool mean = true)
    {
        public double Softcap { get; } = softcap;
        public Tiles Tiles { get; } = tiles;
        public bool Mean { get; } = mean;
    }

    /// <summary>
    /// Ids first .. first + count of the vocabulary, seen from a chunk's targets (rows,): each target's column in the
    /// block (clamped into it, for gather and scatter) and whether the block holds it (1 or 0, fp32; never for an
    /// ignored target, -1).
    /// </summary>
    sealed class Block
    {
        public Block(long first, long count, Tensor targets)
        {
            Count = count;
            using Scalar firstId = first, zero = 0L, last = count - 1;
            using var column = targets.sub(firstId);                                      // (rows,)
            Holds = column.ge(zero).logical_and_(column.le(last)).to(ScalarType.Float32).unsqueeze(1); // (rows, 1)
            Local = column.clamp(zero, last).unsqueeze(1);                                // (rows, 1)
        }

        public long Count { get; }
        public Tensor Holds { get; }
        public Tensor Local { get; }
    }

    /// <summary>
    /// Tile-sized buffers that every tile of one call reuses, so the loops allocate nothing of that size: a fresh
    /// allocation that large is a fresh mapping from the kernel on glibc, paid for in page faults and zeroing each
    /// time. Made in the caller's dispose scope.
    /// </summary>
    sealed class Scratch(Head head, Tensor h, Tensor weight, bool capSlope)
    {
        static long Size(Head head, Tensor h, Tensor weight) =>
            Math.Min(head.Tiles.Rows, h.shape[0]) * Math.Min(head.Tiles.Vocab, weight.shape[0]);

        readonly Tensor _z = empty(Size(head, h, weight), ScalarType.Float32, h.device);
        // The matmul's own output in the compute dtype (bf16), when that is not fp32.
        readonly Tensor? _raw = h.dtype == ScalarType.Float32 ? null : empty(Size(head, h, weight), h.dtype, h.device);
        readonly Tensor? _slope = capSlope && head.Softcap > 0 ? empty(Size(head, h, weight), ScalarType.Float32, h.device) : null;

        /// <summary>A contiguous (rows, cols) view of the buffer's first rows·cols elements.</summary>
        static Tensor Tile(Tensor buffer, long rows, long cols) => buffer.narrow(0, 0, rows * cols).view(rows, cols);

        /// <summary>h (rows, d), W (block, d) -> z (rows, block) fp32: the head's matmul in the compute dtype, then the cap in fp32.</summary>
        public Tensor Logits(Tensor h, Tensor weight)
        {
            long rows = h.shape[0], cols = weight.shape[0];
            var z = Tile(_z, rows, cols);
            var wt = weight.t();                                  // (d, block) view
            if (_raw is null) z.addmm_(h, wt, beta: 0, alpha: 1); // beta 0: the buffer's old contents are not read
            else z.copy_(Tile(_raw, rows, cols).addmm_(h, wt, beta: 0, alpha: 1));
            if (head.Softcap <= 0) return z;
            using Scalar cap = head.Softcap;
            return z.div_(cap).tanh_().mul_(cap);
        }

        /// <summary>dlogits (rows, block) fp32 in the compute dtype, for the gradients' matmuls (as the logits path rounds it).</summary>
        public Tensor InComputeDtype(Tensor dz) => _raw is null ? dz : Tile(_raw, dz.shape[0], dz.shape[1]).copy_(dz);

        /// <summary>z (rows, block) capped logits -> d z / d raw = 1 - (z/cap)²; null without a cap.</summary>
        public Tensor? CapSlope(Tensor z)
        {
            if (_slope is null) return null;
            using Scalar negInvCapSq = -1.0 / (head.Softcap * head.Softcap), one = 1.0;
            return Tile(_slope, z.shape[0], z.shape[1]).fill_(one).addcmul_(z, z, negInvCapSq);
        }
    }

    /// <summary>Which inputs backward must give a gradient: the hidden states, the head weight.</summary>
    sealed record Wants(bool H, bool W);

    private sealed class Function : SingleTensorFunction<Function>
    {
        public override string Name => nameof(FusedLinearCrossEntropy);

        public override Tensor forward(AutogradContext ctx, params object[] vars)
        {
            var (h, weight, targets, head) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Head)vars[3]);
            var (losses, lse) = Forward(h, weight, targets, head);
            ctx.save_for_backward([h, weight, targets, lse]); // lse is the caller's scope's; the saved variable keeps it
            ctx.save_data(nameof(Head), head);
            // A frozen head (freeze) or frozen hidden states get no gradient: backward then skips dW's V x d and its
            // products (2 V d FLOPs a row), or dh's.
            ctx.save_data(nameof(Wants), new Wants(h.requires_grad, weight.requires_grad));
            return Reduce(losses, targets, head.Mean);
        }

        public override List<Tensor> backward(AutogradContext ctx, Tensor gradOutput)
        {
            HandedGradients.ReleaseThisThread();
            var head = (Head)ctx.get_data(nameof(Head));
            var wants = (Wants)ctx.get_data(nameof(Wants));
            using var scope = NewDisposeScope(); // on CUDA this runs on autograd's thread: everything made here is freed here
            var saved = ctx.get_saved_variables();
            var (h, weight, targets, lse) = (saved[0], saved[1], saved[2], saved[3]);
            long n = h.shape[0], vocab = weight.shape[0];
            var counted = Counted(targets);
            // Each row's share of the incoming gradient: g (/ count for the mean) where the row counts, else 0.  (N,)
            var scale = head.Mean ? gradOutput.div(counted.sum().to(ScalarType.Float32)) : gradOutput;
            var rowScale = counted.to(ScalarType.Float32).mul_(scale);
            var dh = wants.H ? empty(h.shape, ScalarType.Float32, h.device) : null;           // (N, d), fp32
            var dW = wants.W ? empty(weight.shape, weight.dtype, weight.device) : null;       // (V, d), W's dtype
            var scratch = new Scratch(head, h, weight, capSlope: true);
            bool oneChunk = n <= head.Tiles.Rows;
            // Blocks outside, chunks inside: a block's dW sums over the chunks in fp32 and is cast once, and no fp32
            // copy of the whole dW (V x d) is needed beside a bf16 one. The products run in the compute dtype, as the
            // logits path's do (bf16 GEMMs ran 2.5x fp32's here); only their sums are fp32.
            for (long v = 0; v < vocab; v += head.Tiles.Vocab)
            {
                using var block = NewDisposeScope();
                long count = Math.Min(head.Tiles.Vocab, vocab - v);
                var wBlock = weight.narrow(0, v, count);                                     // (block, d)
                var dWBlock = dW?.narrow(0, v, count);
                var dWBlock32 = dWBlock is null || oneChunk || weight.dtype == ScalarType.Float32 ? dWBlock : empty(count, weight.shape[1], ScalarType.Float32, weight.device);
                for (long r = 0; r < n; r += head.Tiles.Rows)
                {
                    using var chunk = NewDisposeScope();
                    long rows = Math.Min(head.Tiles.Rows, n - r);
                    var hRows = h.narrow(0, r, rows);
                    var w = rowScale.narrow(0, r, rows).unsqueeze(1);                        // (rows, 1)
                    var ids = new Block(v, count, targets.narrow(0, r, rows));
                    var z = scratch.Logits(hRows, wBlock);                                   // (rows, block) fp32
                    var slope = scratch.CapSlope(z);
                    var dz = z.sub_(lse.narrow(0, r, rows).unsqueeze(1)).exp_().mul_(w);     // g·softmax(z), in place
                    dz.scatter_add_(1, ids.Local, w.neg().mul_(ids.Holds));                  // - g·onehot(y)
                    if (slope is not null) dz.mul_(slope);                                   // dlogits
                    var dzc = scratch.InComputeDtype(dz);                                    // (rows, block), h's dtype
                    if (dh is not null) Accumulate(dh.narrow(0, r, rows), dzc.mm(wBlock), first: v == 0); // += (rows, d)
                    if (dWBlock is null) continue;
                    if (oneChunk) dWBlock.addmm_(dzc.t(), hRows, beta: 0, alpha: 1);         // the block's dW in one product
                    else Accumulate(dWBlock32!, dzc.t().mm(hRows), first: r == 0);          // += (block, d)
                }
                if (!ReferenceEquals(dWBlock32, dWBlock)) dWBlock!.copy_(dWBlock32!);       // the block's one cast
            }
            var dhOut = dh is null ? null : (h.dtype == ScalarType.Float32 ? dh : dh.to(h.dtype)).DetachFromDisposeScope(); // dh's one cast
            var dWOut = dW?.DetachFromDisposeScope();
            HandedGradients.Hand(new[] { dhOut, dWOut }.OfType<Tensor>().ToList());
            gradOutput.Dispose(); // TorchSharp wrapped it for this call; autograd holds its own reference
            return [dhOut!, dWOut!, null!, null!];
        }
    }
}

using LMHarness.Config;
using LMHarness.Model.Norms;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LMHarness.Model.Attention;

/// <summary>
/// Differential attention (Ye et al. 2024, "Differential Transformer"). Each head's Q and K are cut into two halves,
/// giving two softmax maps A1, A2 over the same V, and the head outputs (A1 - lambda A2) V: common-mode attention
/// noise cancels. lambda = exp(lambda_q1 . lambda_k1) - exp(lambda_q2 . lambda_k2) + lambda_init, with
/// lambda_init = 0.8 - 0.6 exp(-0.3 (l - 1)) for 1-based layer l. Each head is RMS-normalised (<c>subln</c>, shared
/// across heads) and scaled by (1 - lambda_init) so gradients match ordinary attention at initialisation.
/// K/V use n_head heads (like MHA); head_dim must be even (divisible by 4 with RoPE, which rotates the halves).
/// </summary>
public sealed class DifferentialAttention : CausalSelfAttention
{
    private readonly Parameter lambda_q1;
    private readonly Parameter lambda_k1;
    private readonly Parameter lambda_q2;
    private readonly Parameter lambda_k2;
    private readonly RmsNorm subln;

    /// <param name="config">Model config (d_model, n_head, dropout, norm eps, positions).</param>
    /// <param name="layer">0-based layer index (the paper's l - 1).</param>
    public DifferentialAttention(ModelConfig config, int layer) : base(nameof(DifferentialAttention), config, config.NHead, qkSplit: 2)
    {
        LambdaInit = LambdaInitFor(layer);
        long half = config.HeadDim / 2;
        // The paper's reference code draws the lambda vectors from N(0, 0.1).
        lambda_q1 = nn.Parameter(zeros(half).normal_(0, 0.1));
        lambda_k1 = nn.Parameter(zeros(half).normal_(0, 0.1));
        lambda_q2 = nn.Parameter(zeros(half).normal_(0, 0.1));
        lambda_k2 = nn.Parameter(zeros(half).normal_(0, 0.1));
        subln = new RmsNorm(config.HeadDim, config.NormEps);
        RegisterComponents();
    }

    public double LambdaInit { get; }

    /// <summary>lambda_init = 0.8 - 0.6 exp(-0.3 layer) for 0-based layer index.</summary>
    public static double LambdaInitFor(int layer) => 0.8 - 0.6 * Math.Exp(-0.3 * layer);

    /// <summary>The current lambda (a scalar tensor).</summary>
    public Tensor Lambda()
    {
        using var scope = NewDisposeScope();
        var l1 = (lambda_q1 * lambda_k1).sum().to(ScalarType.Float32).exp();
        var l2 = (lambda_q2 * lambda_k2).sum().to(ScalarType.Float32).exp();
        using Scalar init = LambdaInit;
        return l1.sub(l2).add_(init, Scalars.One).MoveToOuterDisposeScope(); // l1 - l2 + lambda_init
    }

    protected override Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        long b = q.shape[0], tq = q.shape[2], tk = k.shape[2];
        using Scalar scale = 1.0 / Math.Sqrt(q.shape[^1]), outScale = 1 - LambdaInit;
        var scores = q.matmul(k.transpose(-2, -1)).mul(scale);
        var allowed = mask ?? CausalMask.Allowed(tq, tk, q.device);
        scores = scores.masked_fill(allowed.logical_not(), Scalars.NegativeInfinity);
        var probs = nn.functional.softmax(scores, -1).view(b, NHead, 2, tq, tk);
        var diff = probs.select(2, 0) - Lambda().to(probs.dtype) * probs.select(2, 1);
        diff = nn.functional.dropout(diff, AttentionDropout, training);
        var y = subln.forward(diff.matmul(v)).mul(outScale);
        return y.MoveToOuterDisposeScope();
    }
}

using LMHarness.Config;
using LMHarness.Model.Embeddings;
using LMHarness.Model.Norms;
using LMHarness.Model.Positions;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LMHarness.Model.Attention;

/// <summary>
/// The part every attention kind shares: project x to Q, K, V (HF names <c>q_proj</c>, <c>k_proj</c>,
/// <c>v_proj</c>), rotate Q and K when positions are rotary, append K/V to the cache when decoding, let the
/// subclass mix (<see cref="Attend"/>), and project back (<c>o_proj</c>).
/// <para><c>qkSplit</c> = 2 cuts every Q/K head into two half-width heads (differential attention);
/// V always has head_dim channels per K/V head.</para>
/// <para>Options: QK-norm (<see cref="ModelConfig.QkNorm"/>; Dehghani et al. 2023, "Scaling Vision Transformers to
/// 22 Billion Parameters"; Wortsman et al. 2023, "Small-scale proxies for large-scale Transformer training
/// instabilities"; modded-nanogpt) RMS-normalises every Q and K head over its channels, times a learned gain
/// (<c>q_norm</c>, <c>k_norm</c>, the Qwen3 / OLMo-2 names), right after the projection and before RoPE, so q.k is
/// bounded by the gains and cannot blow up the softmax. Value embeddings (<see cref="ModelConfig.ValueEmbeddings"/>,
/// <see cref="ValueEmbedding"/>) add a per-token row to V before it is cached, so the cache holds the V the
/// layer attends to.</para>
/// </summary>
public abstract class CausalSelfAttention : nn.Module<Tensor, AttentionInput, Tensor>
{
    private readonly Linear q_proj;
    private readonly Linear k_proj;
    private readonly Linear v_proj;
    private readonly Linear o_proj;
    private readonly RotaryEmbedding? rotary;
    private readonly RmsNorm? q_norm;
    private readonly RmsNorm? k_norm;
    private readonly ValueEmbedding? value_embed;

    protected CausalSelfAttention(string name, ModelConfig config, int nKvHead, int qkSplit) : base(name)
    {
        Config = config;
        NHead = config.NHead;
        NKvHead = nKvHead;
        HeadDim = config.HeadDim;
        QkSplit = qkSplit;
        QueryMultiplier = MupScaling.QueryMultiplier(config);
        q_proj = nn.Linear(config.DModel, NHead * HeadDim, hasBias: config.Bias);
        k_proj = nn.Linear(config.DModel, nKvHead * HeadDim, hasBias: config.Bias);
        v_proj = nn.Linear(config.DModel, nKvHead * HeadDim, hasBias: config.Bias);
        o_proj = nn.Linear(NHead * HeadDim, config.DModel, hasBias: config.Bias);
        // Registered here, by name, because RegisterComponents in a subclass does not see a base class's private fields.
        register_module(nameof(q_proj), q_proj);
        register_module(nameof(k_proj), k_proj);
        register_module(nameof(v_proj), v_proj);
        register_module(nameof(o_proj), o_proj);
        if (config.Position == PositionKind.Rope)
            rotary = new RotaryEmbedding(HeadDim / qkSplit, config.RopeTheta, config.Yarn);
        if (config.QkNorm)
        {
            // Per head as Q and K are split (half-width heads for differential attention).
            q_norm = new RmsNorm(HeadDim / qkSplit, config.NormEps);
            k_norm = new RmsNorm(HeadDim / qkSplit, config.NormEps);
            register_module(nameof(q_norm), q_norm);
            register_module(nameof(k_norm), k_norm);
        }
        if (config.ValueEmbeddings)
        {
            value_embed = new ValueEmbedding(config.VocabSize, nKvHead, HeadDim);
            register_module(nameof(value_embed), value_embed);
        }
    }

    // The rotary tables are plain tensors, not buffers: the module's own Dispose does not see them.
    protected override void Dispose(bool disposing)
    {
        if (disposing) rotary?.Dispose();
        base.Dispose(disposing);
    }

    protected ModelConfig Config { get; }
    /// <summary>Factor on q before the kernel's 1/sqrt(d): 1 under SP, sqrt(base_head_dim / head_dim) under μP (<see cref="MupScaling.QueryMultiplier"/>).</summary>
    protected double QueryMultiplier { get; }
    public int NHead { get; }
    public int NKvHead { get; }
    public int HeadDim { get; }
    protected int QkSplit { get; }
    protected double AttentionDropout => training ? Config.Dropout : 0.0;

    /// <summary>q (B, n_head*split, Tq, d/split), k (B, n_kv*split, Tk, d/split), v (B, n_kv, Tk, d) -> (B, n_head, Tq, d).
    /// <paramref name="mask"/> (B, 1, Tq, Tk) bool (true = may attend) for a padded batch, or null for the plain causal mask.</summary>
    protected abstract Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? mask);

    public override Tensor forward(Tensor x, AttentionInput input)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        long dqk = HeadDim / QkSplit;
        var q = q_proj.forward(x).view(b, t, NHead * QkSplit, dqk).transpose(1, 2);
        var k = k_proj.forward(x).view(b, t, NKvHead * QkSplit, dqk).transpose(1, 2);
        var v = v_proj.forward(x).view(b, t, NKvHead, HeadDim).transpose(1, 2);
        if (q_norm is not null && k_norm is not null)
        {
            q = q_norm.forward(q);
            k = k_norm.forward(k);
        }
        if (value_embed is not null)
        {
            var ids = input.TokenIds ?? throw new ArgumentException("value embeddings need the token ids: give AttentionInput.TokenIds (the model's forward does)");
            v = v.add(value_embed.forward(ids).to(v.dtype), Scalars.One);
        }
        if (rotary is not null)
        {
            // Per-row positions (left padding) gather one angle row per token; otherwise all rows share offset.. .
            var (cos, sin) = input.PositionIds is null
                ? rotary.CosSin(input.Offset, t, x.device, q.dtype)
                : rotary.CosSin(input.PositionIds, q.dtype);
            q = RotaryEmbedding.Apply(q, cos, sin);
            k = RotaryEmbedding.Apply(k, cos, sin);
        }
        if (QueryMultiplier != 1.0)
        {
            using Scalar c = QueryMultiplier;   // μP: scores sqrt(base_head_dim)/d_head instead of 1/sqrt(d_head) (MupScaling)
            q = q.mul(c);
        }
        if (input.Cache is not null)
            (k, v) = input.Cache.Append(k, v);
        var y = Attend(q, k, v, input.Mask);
        y = y.transpose(1, 2).contiguous().view(b, t, NHead * HeadDim);
        return o_proj.forward(y).MoveToOuterDisposeScope();
    }
}

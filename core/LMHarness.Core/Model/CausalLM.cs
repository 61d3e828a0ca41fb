using LMHarness.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LMHarness.Model;

/// <summary>
/// Decoder-only language model: logits = Head(Norm(Blocks(Embed(idx)))), trained on next-token cross entropy
/// (GPT-2, Radford et al. 2019; Llama, Touvron et al. 2023). Every choice comes from the <see cref="ModelConfig"/>.
/// <para>The head is tied to the token embedding by default (Press and Wolf 2017): logits = h E^T through
/// <c>F.linear(h, E)</c>, so E is one parameter and AdamW updates it once per step. State-dict keys follow HF
/// Llama (<c>model.embed_tokens.weight</c>, <c>model.layers.{i}.self_attn.q_proj.weight</c>, ...; <c>lm_head.weight</c>
/// only when untied).</para>
/// <para>Initialisation follows GPT-2: every linear and embedding weight ~ N(0, init_std), biases 0, norm gains 1,
/// and the projections that write into the residual stream (o_proj, down_proj) ~ N(0, init_std / sqrt(2 n_layer)),
/// so the residual variance does not grow with depth. With <see cref="ModelConfig.ZeroInitOutputs"/> those
/// projections and an untied head start at 0 instead (modded-nanogpt; ReZero, Bachlechner et al. 2020; Fixup,
/// Zhang et al. 2019): every block starts as the identity and the untied head predicts the uniform distribution.</para>
/// <para>Under μP (<see cref="ModelConfig.Parametrization"/>) the hidden matrices' init std is scaled and the logits
/// multiplied by base/width (<see cref="MupScaling"/>); at the base width nothing changes.</para>
/// <para>The head soft-caps the logits when <see cref="ModelConfig.LogitSoftcap"/> is set (<see cref="LogitSoftcap"/>).</para>
/// </summary>
public sealed class CausalLM : nn.Module<Tensor, Tensor>
{
    /// <summary>Targets equal to this are skipped by the loss (padding, prompt tokens).</summary>
    public const long IgnoreIndex = LanguageModelLoss.IgnoreIndex;

    private readonly DecoderStack model;
    private readonly Linear? lm_head;

    public CausalLM(ModelConfig config) : base(nameof(CausalLM))
    {
        Config = config.Validated();
        model = new DecoderStack(config);
        if (!config.TieEmbeddings)
            lm_head = nn.Linear(config.DModel, config.VocabSize, hasBias: false);
        RegisterComponents();
        Initialise();
    }

    public ModelConfig Config { get; }
    public DecoderStack Body => model;

    /// <summary>The token embedding matrix (vocab, d_model); also the head when tied.</summary>
    public Parameter TokenEmbedding => model.EmbedTokens.Weight;

    private void Initialise()
    {
        using var _ = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            switch (ParameterInit.StdOf(Config, name))
            {
                case 0: nn.init.zeros_(p); break;
                case double std: nn.init.normal_(p, 0, std); break;
                // null: norm gains/biases and skip weights keep ones/zeros; differential-attention lambdas keep their N(0, 0.1) draw.
            }
        }
    }

    /// <summary>μP's output multiplier (MuReadout) applied to the head's input: (α h) W^T = α (h W^T). Skipped when α = 1 (SP, or μP at the base width).</summary>
    private Tensor Readout(Tensor h)
    {
        double alpha = MupScaling.ReadoutMultiplier(Config);
        if (alpha == 1.0) return h;
        using Scalar a = alpha;
        return h.mul(a);
    }

    /// <summary>Hidden states (B,T,d_model) -> float32 logits (B,T,vocab) through the final norm, the head and the soft cap.</summary>
    private Tensor Head(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var h = Readout(model.FinalNorm.forward(hidden));
        var logits = lm_head is null ? nn.functional.linear(h, model.EmbedTokens.Weight) : lm_head.forward(h);
        return LogitSoftcap.Apply(logits.to(ScalarType.Float32), Config.LogitSoftcap).MoveToOuterDisposeScope();
    }

    private void CheckInput(Tensor idx)
    {
        if (idx.dim() != 2)
            throw new ArgumentException($"idx must be (batch, time) token ids, got shape [{string.Join(", ", idx.shape)}]");
        if (idx.dtype != ScalarType.Int64)
            throw new ArgumentException($"idx must be int64 token ids, got {idx.dtype}: call .to(ScalarType.Int64)");
    }

    private void CheckInput(Tensor idx, LeftPadding padding, long offset)
    {
        CheckInput(idx);
        padding.Check(idx.shape[0], offset + idx.shape[1]);
    }

    /// <summary>idx (B,T) int64 -> logits (B,T,vocab) float32.</summary>
    public override Tensor forward(Tensor idx)
    {
        CheckInput(idx);
        using var scope = NewDisposeScope();
        return Head(model.Hidden(idx, 0, null)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Logits (B,T,vocab) of a left-padded batch (<see cref="LeftPadding.Pack"/>): each row's real columns get the
    /// logits that row would get alone; filler columns get finite values that mean nothing.
    /// </summary>
    public Tensor forward(Tensor idx, LeftPadding padding)
    {
        CheckInput(idx, padding, 0);
        using var scope = NewDisposeScope();
        return Head(model.Hidden(idx, 0, null, padding)).MoveToOuterDisposeScope();
    }

    /// <summary>Logits and mean next-token cross entropy; targets equal to <see cref="IgnoreIndex"/> do not count.</summary>
    public (Tensor Logits, Tensor Loss) ForwardWithLoss(Tensor idx, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var logits = forward(idx);
        var loss = LanguageModelLoss.Mean(logits, targets);
        return (logits.MoveToOuterDisposeScope(), loss.MoveToOuterDisposeScope());
    }

    /// <summary>Mean next-token cross entropy of idx against targets (B,T), ignoring <see cref="IgnoreIndex"/>.</summary>
    public Tensor Loss(Tensor idx, Tensor targets)
    {
        using var scope = NewDisposeScope();
        return LanguageModelLoss.Mean(forward(idx), targets).MoveToOuterDisposeScope();
    }

    /// <summary>The head's weight (vocab, d_model): the token embedding when tied, else lm_head's.</summary>
    public Parameter HeadWeight => lm_head?.weight ?? model.EmbedTokens.Weight;

    /// <summary>
    /// Next-token loss of idx against targets (B,T) straight from the final norm's output and <see cref="HeadWeight"/>
    /// (<see cref="FusedLinearCrossEntropy"/>, soft cap included): the (B,T,vocab) logits never exist. Mean and Sum
    /// are scalars with a graph; None gives the per-position losses (B,T) and runs under no_grad only.
    /// <paramref name="tiles"/> null takes <see cref="FusedLinearCrossEntropy.Tiles.For"/>.
    /// </summary>
    public Tensor FusedLoss(Tensor idx, Tensor targets, nn.Reduction reduction, FusedLinearCrossEntropy.Tiles? tiles = null)
    {
        CheckInput(idx);
        using var scope = NewDisposeScope();
        var h = Readout(model.FinalNorm.forward(model.Hidden(idx, 0, null)));   // (B,T,d_model), the compute dtype
        var loss = reduction switch
        {
            nn.Reduction.Mean => FusedLinearCrossEntropy.Mean(h, HeadWeight, targets, Config.LogitSoftcap, tiles),
            nn.Reduction.Sum => FusedLinearCrossEntropy.Sum(h, HeadWeight, targets, Config.LogitSoftcap, tiles),
            _ => FusedLinearCrossEntropy.PerPosition(h, HeadWeight, targets, Config.LogitSoftcap, tiles),
        };
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>Logits (B,vocab) of the last position only: the head runs on one position instead of T.</summary>
    public Tensor ForwardLast(Tensor idx)
    {
        CheckInput(idx);
        using var scope = NewDisposeScope();
        var hidden = model.Hidden(idx, 0, null);
        return Head(hidden.select(1, -1).unsqueeze(1)).squeeze(1).MoveToOuterDisposeScope();
    }

    /// <summary>Logits (B,vocab) of the last column of a left-padded batch, which is every row's last real token.</summary>
    public Tensor ForwardLast(Tensor idx, LeftPadding padding)
    {
        CheckInput(idx, padding, 0);
        using var scope = NewDisposeScope();
        var hidden = model.Hidden(idx, 0, null, padding);
        return Head(hidden.select(1, -1).unsqueeze(1)).squeeze(1).MoveToOuterDisposeScope();
    }

    /// <summary>An empty KV cache for <paramref name="batch"/> sequences decoded with <see cref="ForwardCached(Tensor, KVCache)"/>.</summary>
    public KVCache NewCache(int batch) => new(Config.NLayer, batch, Config.ContextLength);

    /// <summary>An empty KV cache that reserves <paramref name="capacity"/> positions (it grows beyond them on demand).</summary>
    public KVCache NewCache(int batch, long capacity) => new(Config.NLayer, batch, capacity);

    /// <summary>
    /// Bytes a KV cache of <paramref name="positions"/> positions for <paramref name="batch"/> sequences takes once full:
    /// per layer K and V of kv heads x head_dim channels (differential attention caches the same bytes as two half-width
    /// K heads), in the parameters' dtype. A double: a mistyped context length may describe more than 2^63.
    /// </summary>
    public double CacheBytes(int batch, long positions)
    {
        double elementSize = model.EmbedTokens.Weight.ElementSize, perPosition = 0;
        for (int i = 0; i < Config.NLayer; i++)
            perPosition += 2.0 * (Config.AttentionFor(i) == AttentionKind.Gqa ? Config.NKvHead : Config.NHead) * Config.HeadDim;
        return perPosition * batch * positions * elementSize;
    }

    /// <summary>
    /// Incremental decoding: logits (B,T_new,vocab) for the new tokens idx (B,T_new), which sit at positions
    /// cache.Position.. ; their K/V are appended and the cache advances by T_new. Runs without autograd
    /// (inference only). Feeding a prompt then one token at a time gives the logits of <see cref="forward(Tensor)"/> on the
    /// whole sequence.
    /// </summary>
    public Tensor ForwardCached(Tensor idx, KVCache cache) => ForwardCached(idx, cache, null);

    /// <summary>
    /// <see cref="ForwardCached(Tensor, KVCache)"/> for a left-padded batch: give the same <paramref name="padding"/>
    /// (pad counts from the first cached column) on every call for this cache; null means no padding.
    /// </summary>
    public Tensor ForwardCached(Tensor idx, KVCache cache, LeftPadding? padding)
    {
        if (padding is null) CheckInput(idx);
        else CheckInput(idx, padding, cache.Position);
        if (cache.LayerCount != Config.NLayer)
            throw new ArgumentException($"cache has {cache.LayerCount} layers but the model has {Config.NLayer}: build it with NewCache");
        if (idx.shape[0] != cache.Batch)
            throw new ArgumentException($"idx batch {idx.shape[0]} differs from the cache batch {cache.Batch}");
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var logits = Head(model.Hidden(idx, cache.Position, cache, padding));
        cache.Advance(idx.shape[1]);
        return logits.MoveToOuterDisposeScope();
    }
}

using LMHarness.Config;
using LMHarness.Model.Attention;
using LMHarness.Model.Embeddings;
using LMHarness.Model.Norms;
using LMHarness.Model.Positions;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LMHarness.Model;

/// <summary>
/// The body of the causal LM (HF <c>LlamaModel</c>, the <c>model.</c> prefix of checkpoint keys): token embedding
/// (+ learned positions when configured), embedding dropout, the decoder blocks (joined by <see cref="UNetSkips"/>
/// when <see cref="ModelConfig.SkipConnections"/> is set), and the final norm.
/// <see cref="Hidden(Tensor, long, KVCache?)"/> returns the residual stream before the final norm, so callers can normalise only the
/// positions they need.
/// </summary>
public sealed class DecoderStack : nn.Module
{
    private readonly TokenEmbedding embed_tokens;
    private readonly LearnedPositionEmbedding? embed_positions;
    private readonly Dropout drop;
    private readonly ModuleList<DecoderBlock> layers;
    private readonly nn.Module<Tensor, Tensor> norm;
    private readonly UNetSkips? skip_weights;
    private readonly bool checkpoint;

    public DecoderStack(ModelConfig config) : base(nameof(DecoderStack))
    {
        embed_tokens = new TokenEmbedding(config.VocabSize, config.DModel);
        if (config.Position == PositionKind.Learned)
            embed_positions = new LearnedPositionEmbedding(config.ContextLength, config.DModel);
        drop = nn.Dropout(config.Dropout);
        layers = nn.ModuleList(Enumerable.Range(0, config.NLayer).Select(i => new DecoderBlock(config, i)).ToArray());
        norm = Norms.Norm.Create(config, config.DModel);
        if (config.SkipConnections) skip_weights = new UNetSkips(config.NLayer);
        checkpoint = config.RecomputeActivations;
        RegisterComponents();
    }

    public TokenEmbedding EmbedTokens => embed_tokens;
    public LearnedPositionEmbedding? EmbedPositions => embed_positions;
    public IReadOnlyList<DecoderBlock> Layers => layers.ToList();
    public nn.Module<Tensor, Tensor> FinalNorm => norm;
    public UNetSkips? Skips => skip_weights;

    /// <summary>idx (B,T) at absolute positions offset.. -> residual stream (B,T,d_model), final norm not applied.</summary>
    public Tensor Hidden(Tensor idx, long offset, KVCache? cache) => Hidden(idx, offset, cache, null);

    /// <summary>
    /// As <see cref="Hidden(Tensor, long, KVCache?)"/>, with columns offset.. of a left-padded batch when
    /// <paramref name="padding"/> is given: per-row positions and a per-row mask so filler is never attended to.
    /// </summary>
    public Tensor Hidden(Tensor idx, long offset, KVCache? cache, LeftPadding? padding) => Hidden(idx, offset, cache, padding, null);

    /// <summary>
    /// As <see cref="Hidden(Tensor, long, KVCache?, LeftPadding?)"/>, also handing <paramref name="observe"/> the stream
    /// after the embeddings (depth 0) and after each block (depth i + 1), as it leaves the block.
    /// </summary>
    public Tensor Hidden(Tensor idx, long offset, KVCache? cache, LeftPadding? padding, Action<int, Tensor>? observe)
    {
        using var scope = NewDisposeScope();
        long t = idx.shape[1];
        // Built once here and shared by every layer; keys span the cached columns plus the new ones.
        var positionIds = padding?.PositionIds(offset, t, idx.device);
        var mask = padding?.AttentionMask(t, offset + t, idx.device);
        var x = embed_tokens.call(idx);   // call: forward hooks on the embedding fire
        if (embed_positions is not null)
            x = x.add(positionIds is null ? embed_positions.forward(offset, t) : embed_positions.At(positionIds), Scalars.One);
        x = drop.forward(x);
        observe?.Invoke(0, x);
        var saved = new Stack<Tensor>();
        for (int i = 0; i < layers.Count; i++)
        {
            var block = layers[i];
            var input = new AttentionInput(offset, cache?.Layer(i), positionIds, mask, idx);
            if (skip_weights is not null) x = skip_weights.Enter(i, x, saved);
            // Recompute only when a graph is being recorded for training; a cache means inference.
            if (checkpoint && training && cache is null && is_grad_enabled())
                x = ActivationRecompute.Apply(h => block.forward(h, input), x, block.parameters().ToList());
            else
                x = block.forward(x, input);
            skip_weights?.Leave(i, x, saved);
            observe?.Invoke(i + 1, x);
        }
        return x.MoveToOuterDisposeScope();
    }
}

using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LMHarness.Model.Embeddings;

/// <summary>
/// A layer's value embedding (modded-nanogpt, Keller Jordan et al. 2024, records of December 2024; after value
/// residual learning, Zhou et al. 2024): a (vocab, kv_heads * head_dim) table whose row for each token is added to
/// that token's V, v = W_v x + E[idx]. Deep layers thereby see the token's identity directly, not only through the
/// residual stream that the earlier layers have rewritten.
/// <para>Form chosen here: every layer has its own table and the row is added as is (no mixing scalar). A scalar
/// times a table that is itself learned is the same function, and under Adam the table's learning rate (the
/// embedding group's, see <c>TrainingConfig.EmbeddingLearningRate</c>) already sets how fast it grows; the table
/// starts at N(0, init_std) like the token embedding, so it starts small beside W_v x. modded-nanogpt shares three
/// tables between the first and the last three of 12 layers to save GPU memory; at the harness's scale a table per
/// layer costs vocab x d_model parameters that are looked up, not multiplied.</para>
/// </summary>
public sealed class ValueEmbedding : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly long heads;
    private readonly long headDim;

    /// <param name="vocabSize">Rows of the table.</param>
    /// <param name="heads">K/V heads of the layer's V.</param>
    /// <param name="headDim">Channels per V head.</param>
    public ValueEmbedding(long vocabSize, long heads, long headDim) : base(nameof(ValueEmbedding))
    {
        weight = nn.Parameter(empty(vocabSize, heads * headDim));
        this.heads = heads;
        this.headDim = headDim;
        RegisterComponents();
    }

    public Parameter Weight => weight;

    /// <summary>idx (B,T) int64 -> (B, heads, T, head_dim), V's layout.</summary>
    public override Tensor forward(Tensor idx)
    {
        using var scope = NewDisposeScope();
        long b = idx.shape[0], t = idx.shape[1];
        var rows = weight.index_select(0, idx.reshape(-1));
        return rows.view(b, t, heads, headDim).transpose(1, 2).MoveToOuterDisposeScope();
    }
}

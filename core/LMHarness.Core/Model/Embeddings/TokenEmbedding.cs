using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LMHarness.Model.Embeddings;

/// <summary>
/// Token embedding: row <c>idx</c> of a (vocab, d_model) table. The same <see cref="Weight"/> is the LM head when
/// embeddings are tied (Press and Wolf 2017): logits = h W^T, computed with <c>F.linear(h, Weight)</c> so the
/// matrix stays one parameter.
/// </summary>
public sealed class TokenEmbedding : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;

    public TokenEmbedding(long vocabSize, long dim) : base(nameof(TokenEmbedding))
    {
        weight = nn.Parameter(empty(vocabSize, dim));
        RegisterComponents();
    }

    public Parameter Weight => weight;

    /// <summary>idx (B,T) int64 -> (B,T,d_model).</summary>
    public override Tensor forward(Tensor idx)
    {
        using var scope = NewDisposeScope();
        var rows = weight.index_select(0, idx.reshape(-1));
        return rows.view([.. idx.shape, weight.shape[1]]).MoveToOuterDisposeScope();
    }
}

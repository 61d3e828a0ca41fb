using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LMHarness.Model.Positions;

/// <summary>
/// Learned absolute positions (GPT-2, Radford et al. 2019): a (context_length, d_model) table whose row p is added
/// to the embedding of the token at position p. It cannot go past the context it was trained at.
/// </summary>
public sealed class LearnedPositionEmbedding : nn.Module<long, long, Tensor>
{
    private readonly Parameter weight;

    public LearnedPositionEmbedding(long contextLength, long dim) : base(nameof(LearnedPositionEmbedding))
    {
        weight = nn.Parameter(empty(contextLength, dim));
        RegisterComponents();
    }

    public Parameter Weight => weight;

    /// <summary>Rows <c>offset .. offset+length-1</c>, shape (length, d_model).</summary>
    public override Tensor forward(long offset, long length)
    {
        long max = weight.shape[0];
        if (offset + length > max)
            throw new ArgumentException(
                $"learned positions cover {max} tokens but positions {offset}..{offset + length - 1} were asked for: " +
                $"keep prompt + generated tokens <= context_length ({max}), or use rope/none positions");
        return weight.narrow(0, offset, length);
    }

    /// <summary>Rows for per-row position ids (B, T) (a left-padded batch), shape (B, T, d_model).</summary>
    public Tensor At(Tensor positionIds)
    {
        long max = weight.shape[0], last = positionIds.max().item<long>();
        if (last >= max)
            throw new ArgumentException(
                $"learned positions cover {max} tokens but position {last} was asked for: " +
                $"keep prompt + generated tokens <= context_length ({max}), or use rope/none positions");
        return weight.index_select(0, positionIds.reshape(-1)).view(positionIds.shape[0], positionIds.shape[1], weight.shape[1]);
    }
}

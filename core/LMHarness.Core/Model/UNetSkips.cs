using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LMHarness.Model;

/// <summary>
/// U-net skip connections between early and late blocks (modded-nanogpt, Keller Jordan et al. 2024, record of
/// November 2024 by @brendanh0gan; after Ronneberger et al. 2015, "U-Net"). With E = n_layer / 2 (rounded down), the
/// outputs of blocks 0 .. E-1 are pushed on a stack; each of the last E blocks, n_layer - E + j for j = 0 .. E-1,
/// first pops one and adds it with a learned weight: x = x + w_j skip. So block n_layer - 1 sees block 0's output,
/// block n_layer - E sees block E - 1's; with an odd n_layer the middle block takes no skip. The weights start at 1.
/// The late blocks get the early features straight, without the middle blocks' rewrites in between.
/// Per position, so incremental decoding with a KV cache is unaffected.
/// </summary>
public sealed class UNetSkips : nn.Module
{
    private readonly Parameter weight;
    private readonly int nLayer;

    public UNetSkips(int nLayer) : base(nameof(UNetSkips))
    {
        if (nLayer < 2) throw new ArgumentException($"U-net skips need at least 2 layers (got {nLayer})");
        this.nLayer = nLayer;
        weight = nn.Parameter(ones(nLayer / 2));
        RegisterComponents();
    }

    /// <summary>E: blocks whose outputs are saved, and blocks that receive one.</summary>
    public int Pairs => nLayer / 2;

    public Parameter Weight => weight;

    /// <summary>The input of block <paramref name="layer"/>: x plus its weighted skip when it is one of the last E blocks.</summary>
    public Tensor Enter(int layer, Tensor x, Stack<Tensor> saved)
    {
        int j = layer - (nLayer - Pairs);
        return j >= 0 ? x.add(weight[j] * saved.Pop(), Scalars.One) : x;
    }

    /// <summary>Saves the output of block <paramref name="layer"/> when it is one of the first E blocks.</summary>
    public void Leave(int layer, Tensor output, Stack<Tensor> saved)
    {
        if (layer < Pairs) saved.Push(output);
    }
}

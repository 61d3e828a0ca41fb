using static TorchSharp.torch;

namespace LMHarness.Model;

/// <summary>
/// Keys and values already computed for the tokens seen so far, one <see cref="LayerKV"/> per layer, so decoding a
/// new token costs one position instead of the whole prefix. K is stored after RoPE (rotations are absolute, so
/// old keys never change) and before the GQA repeat (only n_kv_head heads are kept: the memory GQA/MQA saves).
/// <see cref="Position"/> is the number of tokens already cached, i.e. the absolute position of the next token.
/// Build with <see cref="CausalLM.NewCache"/>; dispose to free the tensors.
/// </summary>
public sealed class KVCache : IDisposable
{
    private readonly LayerKV[] layers;

    public KVCache(int nLayer, int batch)
    {
        if (nLayer <= 0) throw new ArgumentException($"a cache needs at least one layer (got {nLayer})");
        if (batch <= 0) throw new ArgumentException($"cache batch must be > 0 (got {batch})");
        layers = Enumerable.Range(0, nLayer).Select(_ => new LayerKV()).ToArray();
        Batch = batch;
    }

    public int Batch { get; }
    public long Position { get; private set; }
    public int LayerCount => layers.Length;
    public LayerKV Layer(int i) => layers[i];

    internal void Advance(long tokens)
    {
        foreach (var layer in layers)
            if (layer.Length != Position + tokens)
                throw new InvalidOperationException($"cache layers disagree: a layer holds {layer.Length} positions, expected {Position + tokens}");
        Position += tokens;
    }

    /// <summary>Forgets every cached token (the tensors are freed); the next token is at position 0 again.</summary>
    public void Reset()
    {
        foreach (var layer in layers) layer.Clear();
        Position = 0;
    }

    public void Dispose() => Reset();
}

/// <summary>One layer's cached K and V, each (B, heads, T_cached, head_dim) in the layout its attention uses.</summary>
public sealed class LayerKV
{
    public Tensor? K { get; private set; }
    public Tensor? V { get; private set; }
    public long Length => K is null ? 0 : K.shape[2];

    /// <summary>Appends the new positions (time is dimension 2) and returns the whole K and V.</summary>
    public (Tensor K, Tensor V) Append(Tensor k, Tensor v)
    {
        var newK = (K is null ? k.detach().clone() : cat([K, k.detach()], 2)).DetachFromDisposeScope();
        var newV = (V is null ? v.detach().clone() : cat([V, v.detach()], 2)).DetachFromDisposeScope();
        Clear();
        K = newK;
        V = newV;
        return (newK, newV);
    }

    internal void Clear()
    {
        K?.Dispose();
        V?.Dispose();
        K = null;
        V = null;
    }
}

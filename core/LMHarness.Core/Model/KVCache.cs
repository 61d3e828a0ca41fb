using static TorchSharp.torch;

namespace LMHarness.Model;

/// <summary>
/// Keys and values already computed for the tokens seen so far, one <see cref="LayerKV"/> per layer, so decoding a
/// new token costs one position instead of the whole prefix. K is stored after RoPE (rotations are absolute, so
/// old keys never change) and before the GQA repeat (only n_kv_head heads are kept: the memory GQA/MQA saves).
/// <see cref="Position"/> is the number of tokens already cached, i.e. the absolute position of the next token.
/// Build with <see cref="CausalLM.NewCache(int)"/>; dispose to free the tensors.
/// </summary>
public sealed class KVCache : IDisposable
{
    private readonly LayerKV[] layers;

    public KVCache(int nLayer, int batch) : this(nLayer, batch, 64) { }

    /// <param name="nLayer">Layers of the model.</param>
    /// <param name="batch">Sequences decoded together.</param>
    /// <param name="initialCapacity">Positions reserved up front per layer (grows by doubling beyond).</param>
    public KVCache(int nLayer, int batch, long initialCapacity)
    {
        if (nLayer <= 0) throw new ArgumentException($"a cache needs at least one layer (got {nLayer})");
        if (batch <= 0) throw new ArgumentException($"cache batch must be > 0 (got {batch})");
        layers = Enumerable.Range(0, nLayer).Select(_ => new LayerKV(initialCapacity)).ToArray();
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

/// <summary>
/// One layer's cached K and V, each (B, heads, T_cached, head_dim) in the layout its attention uses. Stored in a
/// buffer with spare room along time (doubling when full), so appending a token writes one slot instead of
/// copying the whole prefix; <see cref="K"/> and <see cref="V"/> are views of the filled part.
/// </summary>
public sealed class LayerKV
{
    private readonly long initialCapacity;
    private Tensor? kBuffer, vBuffer;

    public LayerKV() : this(64) { }

    /// <param name="initialCapacity">Positions to reserve at the first append (the context length is a good guess).</param>
    public LayerKV(long initialCapacity) => this.initialCapacity = Math.Max(1, initialCapacity);

    public long Length { get; private set; }
    public long Capacity => kBuffer?.shape[2] ?? 0;

    /// <summary>The cached keys (a view; valid until the next append or reset), or null when empty.</summary>
    public Tensor? K => kBuffer?.narrow(2, 0, Length);
    public Tensor? V => vBuffer?.narrow(2, 0, Length);

    /// <summary>Appends the new positions (time is dimension 2) and returns views of the whole K and V.</summary>
    public (Tensor K, Tensor V) Append(Tensor k, Tensor v)
    {
        long needed = Length + k.shape[2];
        if (kBuffer is null || needed > kBuffer.shape[2])
        {
            long capacity = kBuffer is null ? Math.Max(initialCapacity, needed) : Math.Max(2 * kBuffer.shape[2], needed);
            kBuffer = Grow(kBuffer, k, capacity);
            vBuffer = Grow(vBuffer, v, capacity);
        }
        using (no_grad())
        {
            kBuffer.narrow(2, Length, k.shape[2]).copy_(k);
            vBuffer!.narrow(2, Length, v.shape[2]).copy_(v);
        }
        Length = needed;
        return (K!, V!);
    }

    private Tensor Grow(Tensor? old, Tensor like, long capacity)
    {
        var buffer = zeros([like.shape[0], like.shape[1], capacity, like.shape[3]], dtype: like.dtype, device: like.device)
            .DetachFromDisposeScope();
        if (old is not null)
        {
            using (no_grad()) buffer.narrow(2, 0, Length).copy_(old.narrow(2, 0, Length));
            old.Dispose();
        }
        return buffer;
    }

    internal void Clear()
    {
        kBuffer?.Dispose();
        vBuffer?.Dispose();
        kBuffer = vBuffer = null;
        Length = 0;
    }
}

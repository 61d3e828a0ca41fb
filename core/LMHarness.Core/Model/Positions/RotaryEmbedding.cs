using LMHarness.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Model.Positions;

/// <summary>
/// Rotary position embedding (Su et al. 2021, "RoFormer"): channel pair (i, i + dim/2) of Q and K at position p is
/// rotated by angle p * theta^(-2i/dim), so q_m . k_n depends on m - n only. Uses the HF <c>rotate_half</c>
/// convention (halves, not interleaved pairs) so Llama checkpoints load unchanged.
/// <para>With <see cref="YarnScaling"/> (Peng et al. 2023, "YaRN"), frequencies whose wavelength exceeds the original
/// context are interpolated by the factor s, high frequencies are kept, the band between beta_slow and beta_fast
/// rotations is ramped linearly, and cos/sin are multiplied by mscale = 0.1 ln s + 1, which scales the attention
/// logits q.k by mscale^2 (the paper's sqrt(1/t) applied to both q and k).</para>
/// No parameters: a plain object, so it adds nothing to the state dict (HF keeps <c>inv_freq</c> non-persistent too);
/// its cos/sin tables are freed by <see cref="Dispose"/>, which the attention layer owning it calls when it is disposed.
/// </summary>
public sealed class RotaryEmbedding : IDisposable
{
    private readonly float[] invFreq;
    private readonly Dictionary<(string, ScalarType), (Tensor Cos, Tensor Sin)> tables = new();

    /// <param name="dim">Channels rotated (head_dim, or half of it for differential attention); even.</param>
    /// <param name="theta">Base of the geometric frequency ladder (10,000 in RoFormer, 500,000 in Llama 3).</param>
    /// <param name="yarn">YaRN scaling, or null.</param>
    public RotaryEmbedding(int dim, double theta, YarnScaling? yarn)
    {
        if (dim % 2 != 0) throw new ArgumentException($"rotary dimension must be even (got {dim})");
        Dim = dim;
        invFreq = InverseFrequencies(dim, theta, yarn);
        AttentionScaling = yarn is null ? 1.0 : 0.1 * Math.Log(yarn.Factor) + 1.0;
    }

    public int Dim { get; }

    /// <summary>Frees the cos/sin tables (a later call builds them afresh).</summary>
    public void Dispose()
    {
        foreach (var (cos, sin) in tables.Values)
        {
            cos.Dispose();
            sin.Dispose();
        }
        tables.Clear();
    }

    /// <summary>mscale multiplying cos and sin (1 without YaRN).</summary>
    public double AttentionScaling { get; }

    /// <summary>theta^(-2i/dim), i = 0 .. dim/2 - 1, after YaRN blending when configured.</summary>
    public IReadOnlyList<float> Frequencies => invFreq;

    internal static float[] InverseFrequencies(int dim, double theta, YarnScaling? yarn)
    {
        int half = dim / 2;
        var extrapolation = new double[half];
        for (int i = 0; i < half; i++) extrapolation[i] = 1.0 / Math.Pow(theta, 2.0 * i / dim);
        if (yarn is null || yarn.Factor == 1.0) return extrapolation.Select(f => (float)f).ToArray();

        // Dimension index whose wavelength makes `rotations` full turns over the original context.
        double CorrectionDim(double rotations) =>
            dim * Math.Log(yarn.OriginalContextLength / (rotations * 2 * Math.PI)) / (2 * Math.Log(theta));
        double low = Math.Max(Math.Floor(CorrectionDim(yarn.BetaFast)), 0);
        double high = Math.Min(Math.Ceiling(CorrectionDim(yarn.BetaSlow)), dim - 1);
        if (low == high) high += 0.001; // avoid a zero-width ramp
        var result = new float[half];
        for (int i = 0; i < half; i++)
        {
            double ramp = Math.Clamp((i - low) / (high - low), 0, 1);
            double keep = 1 - ramp; // 1: high frequency, extrapolate (keep); 0: low frequency, interpolate by s
            double interpolation = extrapolation[i] / yarn.Factor;
            result[i] = (float)(interpolation * (1 - keep) + extrapolation[i] * keep);
        }
        return result;
    }

    /// <summary>cos and sin for positions offset .. offset+length-1, each (length, dim), already times mscale.</summary>
    /// <remarks>Served as views of a per-device table (HF's cos_cached) that doubles when a longer position is asked
    /// for: layers and steps reuse it instead of recomputing the angles. It starts at the positions first asked for, not
    /// at the context length: a config's max_position_embeddings is not checked against any weights (RoPE has none), so
    /// a mistyped one must not decide an allocation (and a 128k-context model sampled for 5 tokens needs 5 rows, not 128k).</remarks>
    public (Tensor Cos, Tensor Sin) CosSin(long offset, long length, Device device, ScalarType dtype)
    {
        var key = (device.ToString(), dtype);
        if (!tables.TryGetValue(key, out var table) || table.Cos.shape[0] < offset + length)
        {
            long size = table.Cos is null ? offset + length : Math.Max(2 * table.Cos.shape[0], offset + length);
            table.Cos?.Dispose();
            table.Sin?.Dispose();
            table = Table(size, device, dtype);
            tables[key] = table;
        }
        return (table.Cos.narrow(0, offset, length), table.Sin.narrow(0, offset, length));
    }

    /// <summary>cos and sin for per-row positions (B, T) (a left-padded batch), each (B, 1, T, dim): broadcast over heads.</summary>
    public (Tensor Cos, Tensor Sin) CosSin(Tensor positionIds, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        long b = positionIds.shape[0], t = positionIds.shape[1];
        long length = positionIds.max().item<long>() + 1;
        var (cos, sin) = CosSin(0, length, positionIds.device, dtype);
        var flat = positionIds.reshape(-1);
        return (cos.index_select(0, flat).view(b, 1, t, Dim).MoveToOuterDisposeScope(),
                sin.index_select(0, flat).view(b, 1, t, Dim).MoveToOuterDisposeScope());
    }

    private (Tensor Cos, Tensor Sin) Table(long size, Device device, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var inv = tensor(invFreq, device: device);
        using Scalar zero = 0L, stop = size;
        var positions = arange(zero, stop, Scalars.One, dtype: ScalarType.Float32, device: device);
        var freqs = outer(positions, inv);
        var emb = cat([freqs, freqs], -1);
        using Scalar scaling = AttentionScaling;
        var cos = emb.cos().mul(scaling).to(dtype);
        var sin = emb.sin().mul(scaling).to(dtype);
        return (cos.DetachFromDisposeScope(), sin.DetachFromDisposeScope());
    }

    /// <summary>Rotates x (B, H, T, dim) whose T positions match cos/sin (T, dim), or (B, 1, T, dim) per row: x cos + rotate_half(x) sin.</summary>
    /// <remarks>rotate_half(x) = [-x2, x1] is the halves of x swapped with the first negated; the sign is folded into
    /// a signed sin table, so the rotation costs one flip and one fused multiply-add (these small element-wise ops,
    /// not the matmuls, dominate a tiny model's step on CPU).</remarks>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        var shape = x.shape;
        var swapped = x.view([.. shape[..^1], 2, half]).flip(-2).view(shape);
        var signedSin = cat([-sin.narrow(-1, 0, half), sin.narrow(-1, half, half)], -1);
        return (x * cos).addcmul_(swapped, signedSin, Scalars.One).MoveToOuterDisposeScope();
    }
}

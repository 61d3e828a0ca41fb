using static TorchSharp.torch;

namespace LMHarness.Model.Attention;

/// <summary>
/// Grouped-query helper (HF <c>repeat_kv</c>): (B, n_kv, T, d) -> (B, n_kv * rep, T, d) where query head h reads
/// K/V head h / rep. TorchSharp's SDPA has no enable_gqa, so the groups are expanded before the kernel.
/// </summary>
public static class RepeatKv
{
    public static Tensor Apply(Tensor x, long rep)
    {
        if (rep == 1) return x.alias();
        long b = x.shape[0], kv = x.shape[1], t = x.shape[2], d = x.shape[3];
        return x.unsqueeze(2).expand(b, kv, rep, t, d).reshape(b, kv * rep, t, d);
    }
}

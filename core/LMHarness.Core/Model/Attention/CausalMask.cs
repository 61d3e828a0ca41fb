using static TorchSharp.torch;

namespace LMHarness.Model.Attention;

/// <summary>
/// The causal mask for tq queries that are the last tq of tk keys (tk - tq tokens come from a KV cache):
/// query i may see key j iff j &lt;= i + (tk - tq). True = may attend (the SDPA convention for bool masks).
/// </summary>
public static class CausalMask
{
    public static Tensor Allowed(long tq, long tk, Device device) =>
        ones(tq, tk, dtype: ScalarType.Bool, device: device).tril(tk - tq);
}

using LMHarness.Config;

namespace LMHarness.Model;

/// <summary>
/// The maximal update parametrization (μP) for the Adam family, as Tensor Programs V (Yang et al. 2022, table 3 and
/// its MuReadout), microsoft/mup, Everett et al. 2024 and Cerebras' μP guide agree on. With the width multiplier
/// m = d_model / mup_base_width (ffn_hidden and n_head x head_dim are assumed to scale with d_model):
/// <list type="bullet">
/// <item>hidden matrices (every <c>*_proj.weight</c>: q/k/v/o, gate/up/down): init std x 1/sqrt(m) (variance ∝ 1/fan_in)
/// and Adam learning rate x 1/m;</item>
/// <item>embeddings (token, position, value), norm gains, biases, skip weights, lambdas: unchanged, learning rate
/// unscaled;</item>
/// <item>the readout: logits = (α/m) h W^T (MuReadout's output multiplier, α = mup_output_multiplier, 1 by default); an untied lm_head keeps its init and learning
/// rate. Tied embeddings are mup's MuSharedReadout: the shared matrix is treated as an embedding (init and learning
/// rate unscaled) and only the readout's forward carries 1/m, so the input embedding is untouched;</item>
/// <item>attention scores q.k sqrt(base_head_dim) / d_head instead of q.k / sqrt(d_head): ∝ 1/d_head, and exactly SP's
/// scale when d_head = base_head_dim. Applied by multiplying q by sqrt(base_head_dim / d_head) before the kernel's
/// 1/sqrt(d_head).</item>
/// </list>
/// At the base width (m = 1) with α = 1 every multiplier is exactly 1 and is skipped, so μP computes bit for bit what SP does.
/// Under <see cref="Parametrization.Sp"/> every multiplier is 1.
/// </summary>
public static class MupScaling
{
    static bool IsMup(ModelConfig c) => c.Parametrization == Parametrization.Mup;

    /// <summary>m = d_model / mup_base_width under μP, 1 under SP.</summary>
    public static double WidthMultiplier(ModelConfig c) => IsMup(c) ? (double)c.DModel / c.MupBaseWidth : 1.0;

    /// <summary>The head dimension μP's attention scale is anchored at: mup_base_head_dim, or mup_base_width / n_head.</summary>
    public static int BaseHeadDim(ModelConfig c) => c.MupBaseHeadDim > 0 ? c.MupBaseHeadDim : c.MupBaseWidth / c.NHead;

    /// <summary>A hidden (matrix-like) weight: both dimensions grow with width. The blocks' projections, named <c>*_proj.weight</c>.</summary>
    public static bool IsHidden(string name) => name.EndsWith("_proj.weight", StringComparison.Ordinal);

    /// <summary>Factor on the SP init std of parameter <paramref name="name"/>: 1/sqrt(m) for hidden matrices, else 1.</summary>
    public static double InitStdMultiplier(ModelConfig c, string name) => IsHidden(name) ? 1.0 / Math.Sqrt(WidthMultiplier(c)) : 1.0;

    /// <summary>Factor on the Adam learning rate of parameter <paramref name="name"/>: 1/m for hidden matrices, else 1.</summary>
    public static double LearningRateMultiplier(ModelConfig c, string name) => IsHidden(name) ? 1.0 / WidthMultiplier(c) : 1.0;

    /// <summary>Factor on the logits (MuReadout): α/m, α the base's output multiplier (mup_output_multiplier, 1 when unset).</summary>
    public static double ReadoutMultiplier(ModelConfig c) => (IsMup(c) && c.MupOutputMultiplier > 0 ? c.MupOutputMultiplier : 1.0) / WidthMultiplier(c);

    /// <summary>Factor on q before softmax(q k^T / sqrt(d_head)): sqrt(base_head_dim / d_head) under μP, so scores scale as
    /// sqrt(base_head_dim) / d_head; 1 under SP.</summary>
    public static double QueryMultiplier(ModelConfig c) => IsMup(c) ? Math.Sqrt((double)BaseHeadDim(c) / c.HeadDim) : 1.0;
}

using LMHarness.Config;

namespace LMHarness.Model;

/// <summary>
/// The initial std of each parameter of a <see cref="CausalLM"/>, by its HF-style name (GPT-2's scheme, Radford et al. 2019):
/// linear and embedding weights ~ N(0, init_std); the projections that write into the residual stream (o_proj, down_proj)
/// ~ N(0, init_std / sqrt(2 n_layer)) so the residual variance does not grow with depth; with zero_init_outputs those and
/// an untied head start at 0; biases at 0. Under μP each std is further multiplied by
/// <see cref="MupScaling.InitStdMultiplier"/> (1/sqrt(width / base) on hidden matrices; Tensor Programs V, Yang et al. 2022).
/// </summary>
public static class ParameterInit
{
    /// <summary>The std <paramref name="name"/> is drawn with (0: set to zero), or null when its module's own init is kept
    /// (norm gains 1, norm biases 0, skip weights, differential-attention lambdas).</summary>
    public static double? StdOf(ModelConfig c, string name)
    {
        bool residualOutput = name.EndsWith("o_proj.weight", StringComparison.Ordinal) || name.EndsWith("down_proj.weight", StringComparison.Ordinal);
        if ((residualOutput || name == "lm_head.weight") && c.ZeroInitOutputs) return 0;
        double mup = MupScaling.InitStdMultiplier(c, name);
        if (residualOutput) return c.InitStd / Math.Sqrt(2.0 * c.NLayer) * mup;
        if (name.EndsWith("_proj.weight", StringComparison.Ordinal) || name.EndsWith("embed_tokens.weight", StringComparison.Ordinal)
            || name.EndsWith("value_embed.weight", StringComparison.Ordinal) || name.EndsWith("embed_positions.weight", StringComparison.Ordinal)
            || name == "lm_head.weight")
            return c.InitStd * mup;
        if (name.EndsWith("_proj.bias", StringComparison.Ordinal)) return 0;
        return null;
    }
}

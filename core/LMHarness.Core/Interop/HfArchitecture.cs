using LMHarness.Config;

namespace LMHarness.Interop;

/// <summary>The Hugging Face transformers architectures a harness model can be written as.</summary>
public enum HfArchitecture
{
    /// <summary><c>LlamaForCausalLM</c>: RoPE (rotate_half), RMSNorm, SwiGLU, MHA/GQA/MQA, optional q/k/v/o and MLP biases.</summary>
    Llama,
    /// <summary><c>GPT2LMHeadModel</c>: learned positions, LayerNorm with bias, GELU (or ReLU², <c>activation_function</c> "relu2") MLP, MHA, biases, Conv1D (in, out) weights.</summary>
    Gpt2,
}

/// <summary>
/// Decides which HF architecture expresses a <see cref="ModelConfig"/> exactly, or why none does. Exactness is the
/// rule: a checkpoint that loads in transformers must compute the same logits, so anything HF's Llama and GPT-2
/// modules cannot compute (differential attention, NoPE, mixed attention or feed-forward kinds, YaRN with the
/// harness's mscale convention, mixed norms, QK-norm, logit soft-capping, value embeddings, U-net skips, a ReLU²
/// MLP in the Llama layout) is refused rather than approximated. Zero-initialised output projections change only the
/// starting point, not the function, and export as usual.
/// </summary>
public static class HfArchitectures
{
    /// <summary>The architecture for <paramref name="config"/>, or throws <see cref="NotSupportedException"/> naming every obstacle and the fallback.</summary>
    public static HfArchitecture Choose(ModelConfig config)
    {
        var (arch, problems) = Inspect(config);
        if (arch is { } a) return a;
        throw new NotSupportedException(
            "This model cannot be exported as a Hugging Face checkpoint: " + string.Join("; ", problems) +
            ". Save it in the harness's own safetensors format instead (HarnessExport.Save, or scripts/export.csx --native), which keeps every block.");
    }

    /// <summary>True when <paramref name="config"/> maps exactly onto an HF architecture.</summary>
    public static bool CanExport(ModelConfig config) => Inspect(config).Arch is not null;

    static (HfArchitecture? Arch, List<string> Problems) Inspect(ModelConfig c)
    {
        var attention = c.AttentionKinds.Distinct().ToList();
        var ffn = c.FeedForwardKinds.Distinct().ToList();
        var problems = new List<string>();
        if (attention.Contains(AttentionKind.Differential))
            problems.Add("differential attention (Ye et al. 2024) has no HF Llama or GPT-2 equivalent");
        // Raw, Mha and Gqa compute the same function; they only differ in kernel and K/V head count.
        int kvHeads(AttentionKind k) => k == AttentionKind.Gqa ? c.NKvHead : c.NHead;
        if (attention.Where(k => k != AttentionKind.Differential).Select(kvHeads).Distinct().Count() > 1)
            problems.Add("layers mix attention kinds with different K/V head counts; HF uses one num_key_value_heads for every layer");
        if (ffn.Count > 1)
            problems.Add("layers mix feed-forward kinds; HF uses one MLP type for every layer");
        if (c.QkNorm)
            problems.Add("qk_norm: HF Llama and GPT-2 do not normalise q and k (Qwen3 and OLMo-2 do, but the harness does not write those formats)");
        if (c.LogitSoftcap > 0)
            problems.Add($"logit_softcap {c.LogitSoftcap}: HF Llama and GPT-2 have no logit soft-capping (Gemma 2's final_logit_softcapping), so their logits would not be capped");
        if (c.ValueEmbeddings)
            problems.Add("value_embeddings: HF Llama and GPT-2 have no per-layer embedding added to V");
        if (c.SkipConnections)
            problems.Add("skip_connections: HF Llama and GPT-2 run the layers in a plain chain, without U-net skips between early and late layers");
        // μP equals SP, and exports as SP, only at its base width with output multiplier 1.
        if (c.Parametrization == Parametrization.Mup && (Model.MupScaling.WidthMultiplier(c) != 1.0 || Model.MupScaling.ReadoutMultiplier(c) != 1.0))
            problems.Add($"parametrization mup at d_model {c.DModel} (mup_base_width {c.MupBaseWidth}) with mup_output_multiplier {(c.MupOutputMultiplier > 0 ? c.MupOutputMultiplier : 1):G4}: " +
                $"the logits carry μP's output multiplier {Model.MupScaling.ReadoutMultiplier(c):G4}, which HF Llama and GPT-2 have no place for when the head is tied to the embedding" +
                (Model.MupScaling.WidthMultiplier(c) != 1.0 ? " (and the attention scale sqrt(base_head_dim)/d_head differs from their 1/sqrt(d_head))" : "") +
                "; export a model with mup_output_multiplier 1 at its base width, where μP equals SP");
        if (problems.Count > 0) return (null, problems);

        bool llamaLike = c.Position == PositionKind.Rope && c.Norm == NormKind.RmsNorm && ffn[0] == FeedForwardKind.SwiGlu;
        bool gpt2Like = c.Position == PositionKind.Learned && c.Norm == NormKind.LayerNorm && ffn[0] is FeedForwardKind.Mlp or FeedForwardKind.Relu2;
        if (llamaLike)
        {
            if (c.Yarn is not null)
                return (null, ["YaRN-scaled RoPE is not exported: transformers' yarn rope_scaling differs from the harness's in details (ramp bounds, mscale), so logits would not match"]);
            return (HfArchitecture.Llama, problems);
        }
        if (gpt2Like)
        {
            if (kvHeads(attention[0]) != c.NHead)
                return (null, ["GPT-2 has no grouped-query attention: use n_kv_head = n_head or the Llama layout"]);
            return (HfArchitecture.Gpt2, problems);
        }
        if (c.Position == PositionKind.None)
            problems.Add("NoPE (no positional encoding) has no HF Llama or GPT-2 equivalent");
        else if (ffn[0] == FeedForwardKind.Relu2 && c.Position == PositionKind.Rope)
            problems.Add("the relu2 feed-forward in the Llama layout: HF Llama's MLP is gated (silu(gate) * up), so it cannot compute relu(up)^2 (GPT-2's layout can, with learned positions and layer_norm)");
        else
            problems.Add($"the block mix position={c.Position}, norm={c.Norm}, feed_forward={ffn[0]} matches neither Llama (rope + rms_norm + swi_glu) nor GPT-2 (learned + layer_norm + mlp)");
        return (null, problems);
    }
}

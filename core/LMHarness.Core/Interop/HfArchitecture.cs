using LMHarness.Config;

namespace LMHarness.Interop;

/// <summary>The Hugging Face transformers architectures a harness model can be written as.</summary>
public enum HfArchitecture
{
    /// <summary><c>LlamaForCausalLM</c>: RoPE (rotate_half), RMSNorm, SwiGLU, MHA/GQA/MQA, optional q/k/v/o and MLP biases.</summary>
    Llama,
    /// <summary><c>GPT2LMHeadModel</c>: learned positions, LayerNorm with bias, GELU MLP, MHA, biases, Conv1D (in, out) weights.</summary>
    Gpt2,
}

/// <summary>
/// Decides which HF architecture expresses a <see cref="ModelConfig"/> exactly, or why none does. Exactness is the
/// rule: a checkpoint that loads in transformers must compute the same logits, so anything HF's Llama and GPT-2
/// modules cannot compute (differential attention, NoPE, mixed attention or feed-forward kinds, YaRN with the
/// harness's mscale convention, mixed norms) is refused rather than approximated.
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
        if (problems.Count > 0) return (null, problems);

        bool llamaLike = c.Position == PositionKind.Rope && c.Norm == NormKind.RmsNorm && ffn[0] == FeedForwardKind.SwiGlu;
        bool gpt2Like = c.Position == PositionKind.Learned && c.Norm == NormKind.LayerNorm && ffn[0] == FeedForwardKind.Mlp;
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
        else
            problems.Add($"the block mix position={c.Position}, norm={c.Norm}, feed_forward={ffn[0]} matches neither Llama (rope + rms_norm + swi_glu) nor GPT-2 (learned + layer_norm + mlp)");
        return (null, problems);
    }
}

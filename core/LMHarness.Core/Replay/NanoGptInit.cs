using LMHarness.Config;
using LMHarness.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LMHarness.Replay;

/// <summary>
/// nanoGPT's initial weights for a seed, value for value (Karpathy, nanoGPT model.py, GPT.__init__ under
/// torch.manual_seed(seed)). nanoGPT draws, in this order: constructing each module (nn.Embedding: N(0, 1);
/// nn.Linear: kaiming-uniform weight, uniform bias) for wte, wpe, each block's c_attn, attn.c_proj, c_fc,
/// mlp.c_proj, then lm_head; then <c>_init_weights</c> redraws every Linear and Embedding weight ~ N(0, 0.02) in the
/// same module order (lm_head's draw is the tied wte's final value, biases become 0); then every c_proj weight is
/// redrawn ~ N(0, 0.02 / sqrt(2 n_layer)) (GPT-2's residual scaling, Radford et al. 2019).
/// <para>TorchSharp runs PyTorch's own libtorch kernels on the same global CPU generator (mt19937), so repeating
/// those calls on tensors of the same shapes consumes the same draws and yields PyTorch's numbers; the draws whose
/// values nanoGPT overwrites are repeated on scratch tensors only to move the generator on. c_attn (3d x d) splits
/// row-wise into our q_proj, k_proj and v_proj. Checked against nanoGPT's logged losses at initialisation.</para>
/// </summary>
public static class NanoGptInit
{
    /// <summary>nanoGPT's weight scale (hard-coded in its _init_weights).</summary>
    public const double Std = 0.02;

    /// <summary>Every reason <paramref name="config"/> is not a model nanoGPT can build (empty when it is one).</summary>
    public static IReadOnlyList<string> Problems(ModelConfig config)
    {
        var problems = new List<string>();
        void Need(bool ok, string problem) { if (!ok) problems.Add(problem); }
        Need(config.Position == PositionKind.Learned, $"position must be learned (got {config.Position})");
        Need(config.Norm == NormKind.LayerNorm, $"norm must be layer_norm (got {config.Norm})");
        Need(config.FeedForwardKinds.All(k => k == FeedForwardKind.Mlp), $"feed_forward_kinds must all be mlp (got {string.Join(", ", config.FeedForwardKinds)})");
        Need(config.AttentionKinds.All(k => k is AttentionKind.Mha or AttentionKind.Raw || (k == AttentionKind.Gqa && config.NKvHead == config.NHead)),
            $"attention_kinds must be mha or raw with n_kv_head = n_head (got {string.Join(", ", config.AttentionKinds)}, n_kv_head {config.NKvHead})");
        Need(config.TieEmbeddings, "tie_embeddings must be true (nanoGPT ties lm_head to wte)");
        Need(config.FfnHidden == 4 * config.DModel, $"ffn_hidden must be 4 x d_model = {4 * config.DModel} (got {config.FfnHidden})");
        Need(config.InitStd == Std, $"init_std must be {Std} (got {config.InitStd})");
        Need(!config.QkNorm, "qk_norm must be false (nanoGPT has no QK-norm)");
        Need(config.LogitSoftcap == 0, $"logit_softcap must be 0 (nanoGPT does not cap logits; got {config.LogitSoftcap})");
        Need(!config.ValueEmbeddings, "value_embeddings must be false (nanoGPT has none)");
        Need(!config.SkipConnections, "skip_connections must be false (nanoGPT's blocks form a plain chain)");
        Need(!config.ZeroInitOutputs, "zero_init_outputs must be false (nanoGPT draws c_proj ~ N(0, 0.02 / sqrt(2 n_layer)))");
        Need(MupScaling.WidthMultiplier(config) == 1.0, $"parametrization mup must be at its base width (nanoGPT is SP; got d_model {config.DModel}, mup_base_width {config.MupBaseWidth})");
        return problems;
    }

    /// <summary>Throws one error naming every <see cref="Problems"/> entry of <paramref name="config"/>, if any.</summary>
    public static void Require(ModelConfig config)
    {
        var problems = Problems(config);
        if (problems.Count > 0)
            throw new ArgumentException($"replay nanogpt needs a model nanoGPT can build: {string.Join("; ", problems)}. Start from preset nanogpt-cpu or gpt2-124M, or train on the harness's own stream.");
    }

    /// <summary>
    /// Seeds torch's global generator with <paramref name="seed"/> and overwrites every weight of
    /// <paramref name="model"/> with the value nanoGPT's GPT would have after construction under that seed; the
    /// generator is left where nanoGPT's is when its train.py draws the first batch.
    /// </summary>
    public static void Apply(CausalLM model, long seed)
    {
        var config = model.Config;
        Require(config);
        long d = config.DModel, v = config.VocabSize, t = config.ContextLength, f = config.FfnHidden, layers = config.NLayer;
        var p = model.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        string L(long i, string name) => $"model.layers.{i}.{name}";

        using var _ = no_grad();
        using var scope = NewDisposeScope();
        torch.manual_seed(seed);

        // 1. Construction: each module's reset_parameters.
        Scratch(v, d).normal_();                                    // wte = nn.Embedding
        Scratch(t, d).normal_();                                    // wpe
        for (long i = 0; i < layers; i++)
        {
            ConstructLinear(3 * d, d, config.Bias);                 // attn.c_attn
            ConstructLinear(d, d, config.Bias);                     // attn.c_proj
            ConstructLinear(f, d, config.Bias);                     // mlp.c_fc
            ConstructLinear(d, f, config.Bias);                     // mlp.c_proj
        }
        ConstructLinear(v, d, false);                               // lm_head

        // 2. _init_weights over modules in registration order.
        Scratch(v, d).normal_(0, Std);                              // wte: redrawn below through lm_head
        p["model.embed_positions.weight"].copy_(Scratch(t, d).normal_(0, Std));
        for (long i = 0; i < layers; i++)
        {
            var cAttn = Scratch(3 * d, d).normal_(0, Std);
            p[L(i, "self_attn.q_proj.weight")].copy_(cAttn.narrow(0, 0, d));
            p[L(i, "self_attn.k_proj.weight")].copy_(cAttn.narrow(0, d, d));
            p[L(i, "self_attn.v_proj.weight")].copy_(cAttn.narrow(0, 2 * d, d));
            Scratch(d, d).normal_(0, Std);                          // attn.c_proj: redrawn in step 3
            p[L(i, "mlp.up_proj.weight")].copy_(Scratch(f, d).normal_(0, Std));
            Scratch(d, f).normal_(0, Std);                          // mlp.c_proj: redrawn in step 3
        }
        p["model.embed_tokens.weight"].copy_(Scratch(v, d).normal_(0, Std)); // lm_head, tied to wte
        foreach (var (name, bias) in p.Where(x => x.Key.EndsWith("_proj.bias")))
            bias.zero_();

        // 3. Residual projections, in named_parameters order.
        var residual = Std / Math.Sqrt(2.0 * layers);
        for (long i = 0; i < layers; i++)
        {
            p[L(i, "self_attn.o_proj.weight")].copy_(Scratch(d, d).normal_(0, residual));
            p[L(i, "mlp.down_proj.weight")].copy_(Scratch(d, f).normal_(0, residual));
        }
    }

    // On the CPU on purpose: nanoGPT initialises on the CPU generator before moving the model, and so does Apply.
    static Tensor Scratch(long rows, long cols) => empty(rows, cols, device: CPU);

    /// <summary>nn.Linear(in, out).reset_parameters: kaiming_uniform_ on the weight, then uniform_ on the bias.</summary>
    static void ConstructLinear(long outFeatures, long inFeatures, bool bias)
    {
        Scratch(outFeatures, inFeatures).uniform_(-1, 1);
        if (bias) empty(outFeatures, device: CPU).uniform_(-1, 1);
    }
}

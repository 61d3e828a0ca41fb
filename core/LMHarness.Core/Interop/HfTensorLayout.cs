using LMHarness.Config;
using LMHarness.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Interop;

/// <summary>
/// Renames and reshapes tensors between the harness state dict and an HF checkpoint.
/// <para>Llama: the harness keys are the HF keys (<c>model.embed_tokens.weight</c>,
/// <c>model.layers.{i}.self_attn.{q,k,v,o}_proj.weight</c>, <c>model.layers.{i}.mlp.{gate,up,down}_proj.weight</c>,
/// <c>input_layernorm</c>, <c>post_attention_layernorm</c>, <c>model.norm.weight</c>, <c>lm_head.weight</c> when
/// untied). Both use rotate_half RoPE on the natural q/k layout, so no permutation of q_proj/k_proj is needed (the
/// permutation in HF's convert_llama_weights_to_hf.py exists only for Meta's interleaved original checkpoints).</para>
/// <para>GPT-2: <c>transformer.wte</c> = embed_tokens, <c>transformer.wpe</c> = embed_positions,
/// <c>h.{i}.ln_1</c>/<c>ln_2</c> = input/post_attention_layernorm, <c>attn.c_attn</c> = [q; k; v] concatenated,
/// <c>attn.c_proj</c> = o_proj, <c>mlp.c_fc</c> = up_proj, <c>mlp.c_proj</c> = down_proj, <c>transformer.ln_f</c> =
/// model.norm. HF GPT-2 layers are Conv1D, y = x W + b with W (in, out): the transpose of nn.Linear's (out, in).
/// Biases a bias-free harness model lacks are written as zeros (GPT-2 always has them), which is exact.</para>
/// </summary>
public static class HfTensorLayout
{
    /// <summary>HF tensors (name -> tensor, in checkpoint order) from a harness state dict.</summary>
    public static List<KeyValuePair<string, Tensor>> ToHf(ModelConfig config, HfArchitecture arch, IReadOnlyDictionary<string, Tensor> state)
    {
        Tensor Need(string key) => state.TryGetValue(key, out var t) ? t
            : throw new InvalidDataException($"the model state has no '{key}' (its config and weights disagree)");
        var result = new List<KeyValuePair<string, Tensor>>();
        void Add(string name, Tensor t) => result.Add(new(name, t));

        if (arch == HfArchitecture.Llama)
        {
            foreach (var (k, v) in state) Add(k, v);
            return result;
        }

        Tensor BiasOr(string key, long size) => state.TryGetValue(key, out var b) ? b : torch.zeros(size, device: CPU); // state dicts here are CPU snapshots
        long d = config.DModel;
        Add("transformer.wte.weight", Need("model.embed_tokens.weight"));
        Add("transformer.wpe.weight", Need("model.embed_positions.weight"));
        for (int i = 0; i < config.NLayer; i++)
        {
            string ours = $"model.layers.{i}.", hf = $"transformer.h.{i}.";
            Add(hf + "ln_1.weight", Need(ours + "input_layernorm.weight"));
            Add(hf + "ln_1.bias", BiasOr(ours + "input_layernorm.bias", d));
            var q = ours + "self_attn.q_proj."; var k = ours + "self_attn.k_proj."; var v = ours + "self_attn.v_proj.";
            Add(hf + "attn.c_attn.weight", torch.cat([Need(q + "weight"), Need(k + "weight"), Need(v + "weight")], 0).t());
            Add(hf + "attn.c_attn.bias", torch.cat([BiasOr(q + "bias", d), BiasOr(k + "bias", d), BiasOr(v + "bias", d)], 0));
            Add(hf + "attn.c_proj.weight", Need(ours + "self_attn.o_proj.weight").t());
            Add(hf + "attn.c_proj.bias", BiasOr(ours + "self_attn.o_proj.bias", d));
            Add(hf + "ln_2.weight", Need(ours + "post_attention_layernorm.weight"));
            Add(hf + "ln_2.bias", BiasOr(ours + "post_attention_layernorm.bias", d));
            Add(hf + "mlp.c_fc.weight", Need(ours + "mlp.up_proj.weight").t());
            Add(hf + "mlp.c_fc.bias", BiasOr(ours + "mlp.up_proj.bias", config.FfnHidden));
            Add(hf + "mlp.c_proj.weight", Need(ours + "mlp.down_proj.weight").t());
            Add(hf + "mlp.c_proj.bias", BiasOr(ours + "mlp.down_proj.bias", d));
        }
        Add("transformer.ln_f.weight", Need("model.norm.weight"));
        Add("transformer.ln_f.bias", BiasOr("model.norm.bias", d));
        if (!config.TieEmbeddings) Add("lm_head.weight", Need("lm_head.weight"));
        return result;
    }

    /// <summary>
    /// Harness state-dict tensors from HF checkpoint tensors. GPT-2 names are accepted with or without the
    /// <c>transformer.</c> prefix (OpenAI's GPT-2 files omit it); the causal-mask buffers <c>attn.bias</c> /
    /// <c>attn.masked_bias</c> of old GPT-2 files are skipped. A tied checkpoint may carry a copy of lm_head.
    /// </summary>
    public static Dictionary<string, Tensor> FromHf(ModelConfig config, HfArchitecture arch, IReadOnlyDictionary<string, Tensor> hf)
    {
        var used = new HashSet<string>();
        var state = new Dictionary<string, Tensor>();
        if (arch == HfArchitecture.Llama)
        {
            foreach (var (k, v) in hf)
            {
                if (k.EndsWith(".rotary_emb.inv_freq")) continue;   // non-persistent buffer some old exports kept
                if (k == "lm_head.weight" && config.TieEmbeddings) continue;
                state[k] = v;
            }
            return state;
        }

        Tensor Need(string name)
        {
            foreach (var candidate in new[] { "transformer." + name, name })
                if (hf.TryGetValue(candidate, out var t)) { used.Add(candidate); return t; }
            throw new InvalidDataException($"the GPT-2 checkpoint has no 'transformer.{name}' (nor '{name}')");
        }
        long d = config.DModel;
        state["model.embed_tokens.weight"] = Need("wte.weight");
        state["model.embed_positions.weight"] = Need("wpe.weight");
        for (int i = 0; i < config.NLayer; i++)
        {
            string ours = $"model.layers.{i}.", h = $"h.{i}.";
            state[ours + "input_layernorm.weight"] = Need(h + "ln_1.weight");
            state[ours + "input_layernorm.bias"] = Need(h + "ln_1.bias");
            var w = Need(h + "attn.c_attn.weight");
            if (!w.shape.SequenceEqual([d, 3 * d]))
                throw new InvalidDataException($"'{h}attn.c_attn.weight' has shape [{string.Join(", ", w.shape)}] but n_embd {d} implies [{d}, {3 * d}] (Conv1D: in, out)");
            var qkv = w.t().chunk(3, 0);
            var b = Need(h + "attn.c_attn.bias").chunk(3, 0);
            string[] proj = ["q_proj", "k_proj", "v_proj"];
            for (int j = 0; j < 3; j++)
            {
                state[ours + $"self_attn.{proj[j]}.weight"] = qkv[j];
                state[ours + $"self_attn.{proj[j]}.bias"] = b[j];
            }
            state[ours + "self_attn.o_proj.weight"] = Need(h + "attn.c_proj.weight").t();
            state[ours + "self_attn.o_proj.bias"] = Need(h + "attn.c_proj.bias");
            state[ours + "post_attention_layernorm.weight"] = Need(h + "ln_2.weight");
            state[ours + "post_attention_layernorm.bias"] = Need(h + "ln_2.bias");
            state[ours + "mlp.up_proj.weight"] = Need(h + "mlp.c_fc.weight").t();
            state[ours + "mlp.up_proj.bias"] = Need(h + "mlp.c_fc.bias");
            state[ours + "mlp.down_proj.weight"] = Need(h + "mlp.c_proj.weight").t();
            state[ours + "mlp.down_proj.bias"] = Need(h + "mlp.c_proj.bias");
        }
        state["model.norm.weight"] = Need("ln_f.weight");
        state["model.norm.bias"] = Need("ln_f.bias");
        if (!config.TieEmbeddings) { state["lm_head.weight"] = hf["lm_head.weight"]; used.Add("lm_head.weight"); }

        var unexpected = hf.Keys.Where(k => !used.Contains(k) && !k.EndsWith(".attn.bias") && !k.EndsWith(".attn.masked_bias") && k != "lm_head.weight").ToList();
        if (unexpected.Count > 0)
            throw new InvalidDataException($"the GPT-2 checkpoint holds tensors the layout does not know: {string.Join(", ", unexpected.Take(5))}{(unexpected.Count > 5 ? ", ..." : "")}");
        return state;
    }

    /// <summary>
    /// The tensors an HF checkpoint of <paramref name="config"/> holds, by HF name and shape, lazily in the model's
    /// order (what <see cref="FromHf"/> reads): for Llama the harness state dict itself; for GPT-2 the Conv1D (in, out)
    /// layout with q, k and v fused in c_attn, every bias present. A tied lm_head that a file may carry is not listed
    /// (see <see cref="Skipped"/>).
    /// </summary>
    public static IEnumerable<ParameterShape> Expected(ModelConfig config, HfArchitecture arch) =>
        arch == HfArchitecture.Llama ? ParameterShapes.Of(config) : ExpectedGpt2(config.Validated());

    static IEnumerable<ParameterShape> ExpectedGpt2(ModelConfig c)
    {
        long d = c.DModel, f = c.FfnHidden;
        yield return new("transformer.wte.weight", [c.VocabSize, d]);
        yield return new("transformer.wpe.weight", [c.ContextLength, d]);
        for (int i = 0; i < c.NLayer; i++)
        {
            string h = $"transformer.h.{i}.";
            yield return new(h + "ln_1.weight", [d]);
            yield return new(h + "ln_1.bias", [d]);
            yield return new(h + "attn.c_attn.weight", [d, 3 * d]);
            yield return new(h + "attn.c_attn.bias", [3 * d]);
            yield return new(h + "attn.c_proj.weight", [d, d]);
            yield return new(h + "attn.c_proj.bias", [d]);
            yield return new(h + "ln_2.weight", [d]);
            yield return new(h + "ln_2.bias", [d]);
            yield return new(h + "mlp.c_fc.weight", [d, f]);
            yield return new(h + "mlp.c_fc.bias", [f]);
            yield return new(h + "mlp.c_proj.weight", [f, d]);
            yield return new(h + "mlp.c_proj.bias", [d]);
        }
        yield return new("transformer.ln_f.weight", [d]);
        yield return new("transformer.ln_f.bias", [d]);
        if (!c.TieEmbeddings) yield return new("lm_head.weight", [c.VocabSize, d]);
    }

    /// <summary>A checkpoint's tensor name as <see cref="Expected"/> lists it: GPT-2 names gain the <c>transformer.</c> prefix OpenAI's files omit.</summary>
    public static string Canonical(string name, HfArchitecture arch) =>
        arch == HfArchitecture.Gpt2 && !name.StartsWith("transformer.", StringComparison.Ordinal) && name != "lm_head.weight" ? "transformer." + name : name;

    /// <summary>True for tensors a checkpoint may carry that <see cref="FromHf"/> skips: a tied lm_head's copy, Llama's old inv_freq buffers, GPT-2's causal-mask buffers.</summary>
    public static bool Skipped(string name, ModelConfig config, HfArchitecture arch) =>
        (name == "lm_head.weight" && config.TieEmbeddings)
        || (arch == HfArchitecture.Llama ? name.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal)
            : name.EndsWith(".attn.bias", StringComparison.Ordinal) || name.EndsWith(".attn.masked_bias", StringComparison.Ordinal));
}

using System.Text.Json;
using System.Text.Json.Nodes;
using LMHarness.Config;
using TorchSharp;

namespace LMHarness.Interop;

/// <summary>
/// Hugging Face <c>config.json</c> for a harness model and back: <c>LlamaConfig</c> (hidden_size, intermediate_size,
/// num_attention_heads, num_key_value_heads, head_dim, rope_theta, rms_norm_eps, max_position_embeddings,
/// tie_word_embeddings, attention_bias, mlp_bias, hidden_act silu) or <c>GPT2Config</c> (n_embd, n_layer, n_head,
/// n_positions, n_inner, layer_norm_epsilon, activation_function). Reading refuses configs whose behaviour the
/// harness model cannot reproduce (rope_scaling, a head_dim other than hidden_size / heads, different attention and
/// MLP bias flags, GPT-2's layer-wise attention scaling) with the field to blame.
/// </summary>
public static class HfConfig
{
    /// <summary>The config.json object for <paramref name="config"/> under <paramref name="arch"/>; eos/bos = <paramref name="endOfText"/> when &gt;= 0.</summary>
    public static JsonObject ToJson(ModelConfig config, HfArchitecture arch, torch.ScalarType dtype, int endOfText)
    {
        var c = config;
        JsonObject o = arch switch
        {
            HfArchitecture.Llama => new JsonObject
            {
                ["architectures"] = new JsonArray("LlamaForCausalLM"),
                ["model_type"] = "llama",
                ["vocab_size"] = c.VocabSize,
                ["hidden_size"] = c.DModel,
                ["intermediate_size"] = c.FfnHidden,
                ["num_hidden_layers"] = c.NLayer,
                ["num_attention_heads"] = c.NHead,
                ["num_key_value_heads"] = c.AttentionKinds[0] == AttentionKind.Gqa ? c.NKvHead : c.NHead,
                ["head_dim"] = c.HeadDim,
                ["hidden_act"] = "silu",
                ["max_position_embeddings"] = c.ContextLength,
                ["rms_norm_eps"] = c.NormEps,
                ["rope_theta"] = c.RopeTheta,
                ["rope_scaling"] = null,
                ["attention_bias"] = c.Bias,
                ["mlp_bias"] = c.Bias,
                ["attention_dropout"] = c.Dropout,
                ["initializer_range"] = c.InitStd,
                ["pretraining_tp"] = 1,
                ["tie_word_embeddings"] = c.TieEmbeddings,
                ["use_cache"] = true,
            },
            HfArchitecture.Gpt2 => new JsonObject
            {
                ["architectures"] = new JsonArray("GPT2LMHeadModel"),
                ["model_type"] = "gpt2",
                ["vocab_size"] = c.VocabSize,
                ["n_positions"] = c.ContextLength,
                ["n_ctx"] = c.ContextLength,
                ["n_embd"] = c.DModel,
                ["n_layer"] = c.NLayer,
                ["n_head"] = c.NHead,
                ["n_inner"] = c.FfnHidden,
                // The harness MLP uses exact (erf) GELU: HF's "gelu"; GPT-2's own checkpoints use "gelu_new" (tanh).
                // ReLU² is transformers' "relu2" (ReLUSquaredActivation: relu(x)^2).
                ["activation_function"] = c.FeedForwardKinds[0] == FeedForwardKind.Relu2 ? "relu2" : "gelu",
                ["layer_norm_epsilon"] = c.NormEps,
                ["resid_pdrop"] = c.Dropout,
                ["embd_pdrop"] = c.Dropout,
                ["attn_pdrop"] = c.Dropout,
                ["initializer_range"] = c.InitStd,
                ["scale_attn_weights"] = true,
                ["scale_attn_by_inverse_layer_idx"] = false,
                ["reorder_and_upcast_attn"] = false,
                ["tie_word_embeddings"] = c.TieEmbeddings,
                ["use_cache"] = true,
            },
            _ => throw new ArgumentOutOfRangeException(nameof(arch)),
        };
        o["torch_dtype"] = dtype switch
        {
            torch.ScalarType.Float32 => "float32",
            torch.ScalarType.BFloat16 => "bfloat16",
            torch.ScalarType.Float16 => "float16",
            _ => throw new ArgumentException($"export dtype must be float32, bfloat16 or float16 (got {dtype})"),
        };
        if (endOfText >= 0) { o["bos_token_id"] = endOfText; o["eos_token_id"] = endOfText; }
        return o;
    }

    /// <summary>
    /// The harness config equivalent to an HF config.json, its architecture, and notes on anything approximated
    /// (e.g. GPT-2's tanh GELU run as exact GELU). Throws <see cref="NotSupportedException"/> naming the field that
    /// cannot be reproduced, and <see cref="InvalidDataException"/> naming the field that is missing, of the wrong type,
    /// or not a positive dimension (nothing is built here; the loader then checks the shapes against the weights).
    /// </summary>
    public static (ModelConfig Config, HfArchitecture Arch, IReadOnlyList<string> Notes) FromJson(string json, string source)
    {
        JsonObject o;
        try { o = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException($"{source} is not a JSON object"); }
        catch (JsonException e) { throw new InvalidDataException($"{source} is not valid JSON ({JsonErrors.Describe(e)}); re-download the checkpoint's config.json", e); }

        T Get<T>(string key)
        {
            var node = o[key] ?? throw new InvalidDataException($"{source} lacks \"{key}\", which the {o["model_type"]} config needs");
            try { return node.GetValue<T>(); }
            catch (Exception e) when (e is InvalidOperationException or FormatException or OverflowException)
            {
                // Numbers may be written as 10000 or 10000.0; read through double for numeric types.
                if (typeof(T) == typeof(double)) return (T)(object)node.GetValue<double>();
                throw new InvalidDataException($"{source}: \"{key}\" has an unexpected value {node.ToJsonString()}", e);
            }
        }
        T Or<T>(string key, T fallback) => o[key] is null ? fallback : Get<T>(key);
        // A dimension: refused here, naming the field, when it is not a positive integer (0 heads would divide by zero below).
        int Dim(string key, int? fallback = null)
        {
            int v = fallback is { } f && o[key] is null ? f : Get<int>(key);
            return v > 0 ? v : throw new InvalidDataException($"{source}: \"{key}\" is {v}, but a model dimension must be a positive integer; fix config.json");
        }
        string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
        double Num(string key) => o[key] is JsonValue v && v.TryGetValue<double>(out var d) ? d
            : o[key] is JsonValue w && w.TryGetValue<long>(out var l) ? l
            : throw new InvalidDataException($"{source} lacks numeric \"{key}\"");
        double NumOr(string key, double fallback) => o[key] is null ? fallback : Num(key);

        var notes = new List<string>();
        var modelType = Text(o["model_type"])
            ?? (o["architectures"] is JsonArray a && a.Count > 0 ? Text(a[0]) : null)
            ?? throw new InvalidDataException($"{source} has neither a \"model_type\" string nor an \"architectures\" list of names");
        switch (modelType.ToLowerInvariant())
        {
            case "llama" or "llamaforcausallm":
            {
                if (o["rope_scaling"] is JsonObject rs)
                    throw new NotSupportedException($"{source}: rope_scaling {rs.ToJsonString()} is not supported (the harness RoPE has no Llama-3 / linear / dynamic scaling); only rope_scaling null loads exactly");
                var act = Or("hidden_act", "silu");
                if (act != "silu") throw new NotSupportedException($"{source}: hidden_act \"{act}\" is not supported; the harness SwiGLU uses silu");
                int d = Dim("hidden_size"), heads = Dim("num_attention_heads");
                int kv = Dim("num_key_value_heads", heads);
                int headDim = Dim("head_dim", d / heads);
                if ((long)headDim * heads != d)
                    throw new NotSupportedException($"{source}: head_dim {headDim} x num_attention_heads {heads} != hidden_size {d}; the harness derives head_dim = hidden_size / heads");
                bool attnBias = Or("attention_bias", false), mlpBias = Or("mlp_bias", false);
                if (attnBias != mlpBias)
                    throw new NotSupportedException($"{source}: attention_bias={attnBias} but mlp_bias={mlpBias}; the harness has one bias flag for every linear layer");
                var config = new ModelConfig
                {
                    VocabSize = Dim("vocab_size"),
                    ContextLength = Dim("max_position_embeddings"),
                    NLayer = Dim("num_hidden_layers"),
                    DModel = d,
                    NHead = heads,
                    NKvHead = kv,
                    FfnHidden = Dim("intermediate_size"),
                    AttentionKinds = [kv == heads ? AttentionKind.Mha : AttentionKind.Gqa],
                    FeedForwardKinds = [FeedForwardKind.SwiGlu],
                    Position = PositionKind.Rope,
                    RopeTheta = NumOr("rope_theta", 10000),
                    Norm = NormKind.RmsNorm,
                    NormEps = NumOr("rms_norm_eps", 1e-6),
                    Bias = attnBias,
                    Dropout = 0,
                    TieEmbeddings = Or("tie_word_embeddings", false),
                    InitStd = NumOr("initializer_range", 0.02),
                };
                return (Validated(config, source), HfArchitecture.Llama, notes);
            }
            case "gpt2" or "gpt2lmheadmodel":
            {
                if (Or("scale_attn_by_inverse_layer_idx", false) || Or("reorder_and_upcast_attn", false))
                    throw new NotSupportedException($"{source}: scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn change attention and are not supported");
                if (!Or("scale_attn_weights", true))
                    throw new NotSupportedException($"{source}: scale_attn_weights false (no 1/sqrt(d) scaling) is not supported");
                var act = Or("activation_function", "gelu_new");
                if (act is "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast")
                    notes.Add($"activation_function \"{act}\" is the tanh approximation of GELU; the harness MLP computes exact GELU, so logits differ slightly (~1e-3) from transformers'");
                else if (act is not ("gelu" or "relu2"))
                    throw new NotSupportedException($"{source}: activation_function \"{act}\" is not supported; the harness GPT-2 MLP uses GELU or relu2");
                int d = Dim("n_embd");
                if (o["n_inner"] is null && d > int.MaxValue / 4)
                    throw new InvalidDataException($"{source}: \"n_embd\" is {d}, so the default n_inner (4 x n_embd) is past 2^31; fix config.json");
                var config = new ModelConfig
                {
                    VocabSize = Dim("vocab_size"),
                    ContextLength = Dim("n_positions", Dim("n_ctx", 1024)),
                    NLayer = Dim("n_layer"),
                    DModel = d,
                    NHead = Dim("n_head"),
                    NKvHead = Dim("n_head"),
                    FfnHidden = Dim("n_inner", 4 * d),
                    AttentionKinds = [AttentionKind.Mha],
                    FeedForwardKinds = [act == "relu2" ? FeedForwardKind.Relu2 : FeedForwardKind.Mlp],
                    Position = PositionKind.Learned,
                    Norm = NormKind.LayerNorm,
                    NormEps = NumOr("layer_norm_epsilon", 1e-5),
                    Bias = true,
                    Dropout = 0,
                    TieEmbeddings = Or("tie_word_embeddings", true),
                    InitStd = NumOr("initializer_range", 0.02),
                };
                return (Validated(config, source), HfArchitecture.Gpt2, notes);
            }
            default:
                throw new NotSupportedException($"{source}: model_type \"{modelType}\" is not supported; the importer reads Llama-family (model_type llama, e.g. SmolLM, TinyLlama) and GPT-2 checkpoints");
        }
    }

    /// <summary>The config when it can build a model; otherwise its problems, naming the file.</summary>
    static ModelConfig Validated(ModelConfig config, string source)
    {
        try { return config.Validated(); }
        catch (ArgumentException e) { throw new InvalidDataException($"{source}: {e.Message} Fix config.json.", e); }
    }
}

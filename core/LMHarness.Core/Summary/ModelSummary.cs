using System.Globalization;
using System.Text;
using LMHarness.Config;

namespace LMHarness.Summary;

/// <summary>One row of the summary table: a module (HF state-dict prefix), its type, output shape and parameters.</summary>
public sealed record ModuleRow(string Name, string Type, string OutputShape, long Parameters);

/// <summary>
/// What a <see cref="ModelConfig"/> costs, computed in closed form from the config (no model is built, so the 1B preset
/// is summarised in microseconds): parameter counts (total, embedding, non-embedding, per module; a tied head counts
/// once), a torchinfo-like table, training FLOPs per token (6N + 12 L d T: Kaplan et al. 2020; PaLM, Chowdhery et al.
/// 2022, appendix B; Chinchilla, Hoffmann et al. 2022, appendix F) and the planned training memory (<see cref="MemoryPlan"/>).
/// The counts are tested equal to those of the built <c>CausalLM</c> for every block combination.
/// </summary>
public sealed class ModelSummary
{
    private readonly List<ModuleRow> rows = new();

    private ModelSummary(ModelConfig config, int batch, int context)
    {
        Config = config.Validated();
        long d = config.DModel, v = config.VocabSize, b = batch, t = context;
        string Shape(params long[] dims) => "[" + string.Join(", ", dims) + "]";
        long biasOf(long n) => config.Bias ? n : 0;
        long norm = config.Norm == NormKind.RmsNorm ? d : d + biasOf(d);

        rows.Add(new("model.embed_tokens", "TokenEmbedding", Shape(b, t, d), v * d));
        if (config.Position == PositionKind.Learned)
            rows.Add(new("model.embed_positions", "LearnedPositionEmbedding", Shape(t, d), config.ContextLength * d));
        for (int i = 0; i < config.NLayer; i++)
        {
            string p = $"model.layers.{i}";
            rows.Add(new($"{p}.input_layernorm", config.Norm.ToString(), Shape(b, t, d), norm));
            rows.Add(new($"{p}.self_attn", AttentionType(config.AttentionFor(i)), Shape(b, t, d), AttentionParameters(config, i)));
            if (config.ValueEmbeddings)
                rows.Add(new($"{p}.self_attn.value_embed", "ValueEmbedding", Shape(b, KvHeads(config, i), t, config.HeadDim), ValueEmbeddingParameters(config, i)));
            rows.Add(new($"{p}.post_attention_layernorm", config.Norm.ToString(), Shape(b, t, d), norm));
            rows.Add(new($"{p}.mlp", config.FeedForwardFor(i).ToString(), Shape(b, t, d), FeedForwardParameters(config, i)));
        }
        if (config.SkipConnections)
            rows.Add(new("model.skip_weights", "UNetSkips", Shape(config.NLayer / 2), config.NLayer / 2));
        rows.Add(new("model.norm", config.Norm.ToString(), Shape(b, t, d), norm));
        rows.Add(new("lm_head", config.TieEmbeddings ? "tied to embed_tokens" : "Linear", Shape(b, t, v), config.TieEmbeddings ? 0 : v * d));
        Batch = batch;
        Context = context;
    }

    private static string AttentionType(AttentionKind kind) => kind switch
    {
        AttentionKind.Raw => "RawAttention",
        AttentionKind.Mha => "MultiHeadAttention",
        AttentionKind.Gqa => "GroupedQueryAttention",
        _ => "DifferentialAttention",
    };

    /// <summary>Summary at the config's context length and batch 1.</summary>
    public static ModelSummary Of(ModelConfig config) => new(config, 1, config.ContextLength);

    /// <summary>Summary of a built model (its config; the counts are the model's, tested equal).</summary>
    public static ModelSummary Of(LMHarness.Model.CausalLM model) => Of(model.Config);

    /// <summary>Summary whose table shows output shapes at (batch, context).</summary>
    public static ModelSummary Of(ModelConfig config, int batch, int context)
    {
        if (batch <= 0 || context <= 0) throw new ArgumentException($"batch and context must be > 0 (got {batch}, {context})");
        return new(config, batch, context);
    }

    public ModelConfig Config { get; }
    public int Batch { get; }
    public int Context { get; }
    public IReadOnlyList<ModuleRow> Modules => rows;

    /// <summary>Every parameter once (the tied head adds nothing).</summary>
    public long TotalParameters => rows.Sum(r => r.Parameters);

    /// <summary>Token embedding (+ learned position table; + value embeddings; + untied head): parameters that are looked up or map to the vocabulary.</summary>
    public long EmbeddingParameters => rows.Where(r => r.Name is "model.embed_tokens" or "model.embed_positions" or "lm_head" || IsValueEmbedding(r)).Sum(r => r.Parameters);

    private static bool IsValueEmbedding(ModuleRow r) => r.Name.EndsWith(".value_embed", StringComparison.Ordinal);

    /// <summary>Parameters of the blocks and the final norm: the N of Kaplan et al.'s scaling laws.</summary>
    public long NonEmbeddingParameters => TotalParameters - EmbeddingParameters;

    /// <summary>
    /// Parameters of one attention module of layer <paramref name="layer"/> without its value embedding: Q/O are d x d,
    /// K/V are d x (kv heads * head_dim); QK-norm adds two gains of the Q/K head width (head_dim, half of it for
    /// differential attention).
    /// </summary>
    public static long AttentionParameters(ModelConfig c, int layer)
    {
        long d = c.DModel, hd = c.HeadDim;
        var kind = c.AttentionFor(layer);
        long kv = KvHeads(c, layer);
        long weights = 2 * d * d + 2 * d * kv * hd;
        long biases = c.Bias ? 2 * d + 2 * kv * hd : 0;
        long extra = kind == AttentionKind.Differential ? 4 * (hd / 2) + hd : 0; // lambda_{q,k}{1,2} and subln
        long qkNorm = c.QkNorm ? 2 * (kind == AttentionKind.Differential ? hd / 2 : hd) : 0;
        return weights + biases + extra + qkNorm;
    }

    /// <summary>The value-embedding table of layer <paramref name="layer"/>: vocab x (kv heads * head_dim), 0 when off.</summary>
    public static long ValueEmbeddingParameters(ModelConfig c, int layer) =>
        c.ValueEmbeddings ? (long)c.VocabSize * KvHeads(c, layer) * c.HeadDim : 0;

    private static long KvHeads(ModelConfig c, int layer) => c.AttentionFor(layer) == AttentionKind.Gqa ? c.NKvHead : c.NHead;

    /// <summary>Parameters of the feed-forward of layer <paramref name="layer"/>: 2 d f for GELU and ReLU², 3 d f for SwiGLU (+ biases).</summary>
    public static long FeedForwardParameters(ModelConfig c, int layer)
    {
        long d = c.DModel, f = c.FfnHidden;
        return c.FeedForwardFor(layer) switch
        {
            FeedForwardKind.SwiGlu => 3 * d * f + (c.Bias ? 2 * f + d : 0),
            _ => 2 * d * f + (c.Bias ? f + d : 0),
        };
    }

    /// <summary>
    /// Training FLOPs per token at context T: 6 N + 12 L d T (forward 2N + 4 L d T for QK^T and AV, backward twice
    /// that), the one formula LMHarness uses (the trainer's MFU, the benches). N counts every parameter that enters a
    /// matmul: the blocks, the final norm, and the head: the tied token embedding counts once, as the head's matmul
    /// (nanoGPT's <c>estimate_mfu</c> does the same). Tables that are only looked up do not count: the learned position
    /// table, the value embeddings, and the token embedding when the head is untied (then lm_head is the matmul).
    /// </summary>
    public double FlopsPerToken(int context) =>
        6.0 * (TotalParameters - LookupParameters) + 12.0 * Config.NLayer * Config.DModel * context;

    /// <summary>Parameters that are only looked up (an index selects a row), never multiplied: see <see cref="FlopsPerToken(int)"/>.</summary>
    public long LookupParameters =>
        rows.Where(r => r.Name == "model.embed_positions" || IsValueEmbedding(r) || (r.Name == "model.embed_tokens" && !Config.TieEmbeddings)).Sum(r => r.Parameters);

    /// <summary>FLOPs per token at the config's context length.</summary>
    public double FlopsPerToken() => FlopsPerToken(Config.ContextLength);

    private static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>A torchinfo-like table: one row per module with output shape and parameters, then the totals and costs.</summary>
    public string ToTable()
    {
        var sb = new StringBuilder();
        int nameWidth = Math.Max(30, rows.Max(r => r.Name.Length + r.Type.Length + 4));
        string line = new('=', nameWidth + 38);
        sb.AppendLine(line);
        sb.AppendLine($"{"Layer (type)".PadRight(nameWidth)}{"Output Shape",-22}{"Param #",16}");
        sb.AppendLine(line);
        foreach (var r in rows)
            sb.AppendLine($"{$"{r.Name} ({r.Type})".PadRight(nameWidth)}{r.OutputShape,-22}{Count(r.Parameters),16}");
        sb.AppendLine(line);
        sb.AppendLine($"Total params: {Count(TotalParameters)}");
        sb.AppendLine($"Embedding params: {Count(EmbeddingParameters)}{(Config.TieEmbeddings ? " (head tied to the token embedding, counted once)" : "")}");
        sb.AppendLine($"Non-embedding params: {Count(NonEmbeddingParameters)}");
        sb.AppendLine($"Training FLOPs per token at context {Context}: {FlopsPerToken(Context):0.###e+0}");
        var m = MemoryPlan.For(Config, new TrainingConfig { MicroBatch = Batch, ContextLength = Context });
        sb.AppendLine($"Training memory at batch {Batch} x context {Context} (fp32, AdamW): planned peak {MemoryPlan.Mb(m.PeakBytes)} MB " +
                      $"(weights {MemoryPlan.Mb(m.WeightBytes)}, gradients {MemoryPlan.Mb(m.GradientBytes)}, AdamW {MemoryPlan.Mb(m.OptimizerStateBytes)}, " +
                      $"activations {MemoryPlan.Mb(m.ActivationBytes)}, logits and loss {MemoryPlan.Mb(m.LossPeakBytes)} MB; MemoryPlan has the rest)");
        sb.AppendLine(line);
        return sb.ToString();
    }

    public override string ToString() => ToTable();
}

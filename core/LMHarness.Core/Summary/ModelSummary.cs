using System.Globalization;
using System.Text;
using LMHarness.Config;
using LMHarness.Model;

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

    /// <summary>
    /// Training FLOPs per token at context T when <paramref name="freeze"/> (<see cref="TrainingConfig.Freeze"/>) keeps
    /// some parameters as they are: <see cref="FlopsPerToken(int)"/>'s 6 N + 12 L d T, less what backward then skips.
    /// Each multiplied parameter costs 2 forward, 2 for its input's gradient and 2 for its own. A frozen one skips its
    /// own; an operation with nothing trainable before it (in forward order: the embeddings, each block's norm, Q/K/V,
    /// attention, O, norm, MLP, then the final norm and the head) skips its input's, and a block's attention skips its
    /// 8 d T when nothing at or before its Q/K/V trains. Freezing the tied embedding and the first k of L blocks leaves
    /// 2 N + 4 N_t - 2 d + 4 L d T + 8 (L - k) d T + 2 V d (N_t the parameters that train; block k's first norm needs no
    /// input gradient, the frozen head does). Without freeze it is <see cref="FlopsPerToken(int)"/> exactly.
    /// </summary>
    public double FlopsPerToken(int context, IReadOnlyList<string>? freeze)
    {
        if (freeze is not { Count: > 0 }) return FlopsPerToken(context);
        var c = Config;
        var trains = ParameterShapes.Trainable(c, freeze).Select(p => p.Name).ToHashSet();
        // (position in forward order, elements, trains, multiplied) per tensor; a tied head is the token embedding's tensor,
        // looked up first and multiplied last.
        var ops = new List<((int Layer, int Step) At, long Elements, bool Trains, bool Multiplied)>();
        foreach (var p in ParameterShapes.Of(c))
        {
            bool lookup = p.Name == "model.embed_positions.weight" || p.Name.EndsWith(".value_embed.weight", StringComparison.Ordinal)
                          || p.Name == "model.embed_tokens.weight";
            ops.Add((ForwardPosition(c, p.Name), p.Elements, trains.Contains(p.Name), !lookup));
            if (p.Name == "model.embed_tokens.weight" && c.TieEmbeddings) ops.Add(((c.NLayer, 1), p.Elements, trains.Contains(p.Name), true));
        }
        var first = ops.Where(o => o.Trains).Select(o => o.At).DefaultIfEmpty((int.MaxValue, 0)).Min(); // nothing trains: forward only
        double flops = 0;
        foreach (var (at, n, trainsOp, multiplied) in ops.Where(o => o.Multiplied))
            flops += 2.0 * n * (1 + (trainsOp ? 1 : 0) + (Before(first, at) ? 1 : 0));
        for (int i = 0; i < c.NLayer; i++)
            flops += 4.0 * c.DModel * context * (1 + (Before(first, (i, 2)) ? 2 : 0));
        return flops;
    }

    // Whether a is strictly before b in forward order.
    static bool Before((int Layer, int Step) a, (int Layer, int Step) b) => a.Layer < b.Layer || (a.Layer == b.Layer && a.Step < b.Step);

    /// <summary>Where a tensor acts in forward order: (-1, 0) the embeddings; (i, step) in block i: 0 its input norm,
    /// 1 Q/K/V and what enters with them (QK-norm, differential's lambdas, a value embedding), 2 the attention itself,
    /// 3 differential's sub-norm, 4 O, 5 the second norm, 6 gate and up, 7 down; (L, 0) the final norm and the U-net skip
    /// weights, (L, 1) the head.</summary>
    static (int Layer, int Step) ForwardPosition(ModelConfig c, string name)
    {
        if (name.StartsWith("model.embed_", StringComparison.Ordinal)) return (-1, 0);
        if (name.StartsWith("lm_head", StringComparison.Ordinal)) return (c.NLayer, 1);
        var parts = name.Split('.');
        if (parts is not ["model", "layers", var number, ..]) return (c.NLayer, 0);
        int layer = int.Parse(number, CultureInfo.InvariantCulture);
        string part = string.Join('.', parts[3..]);
        int step = part switch
        {
            _ when part.StartsWith("input_layernorm", StringComparison.Ordinal) => 0,
            _ when part.StartsWith("self_attn.o_proj", StringComparison.Ordinal) => 4,
            _ when part.StartsWith("self_attn.subln", StringComparison.Ordinal) => 3,
            _ when part.StartsWith("self_attn.", StringComparison.Ordinal) => 1,
            _ when part.StartsWith("post_attention_layernorm", StringComparison.Ordinal) => 5,
            _ when part.StartsWith("mlp.down_proj", StringComparison.Ordinal) => 7,
            _ => 6,
        };
        return (layer, step);
    }

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

using LMHarness.Config;

namespace LMHarness.Model;

/// <summary>One tensor of a model's state dict: its name (HF Llama style) and shape.</summary>
public sealed record ParameterShape(string Name, long[] Shape)
{
    /// <summary>The product of the dimensions; throws <see cref="OverflowException"/> past 2^63.</summary>
    public long Elements => Shape.Aggregate(1L, (a, b) => checked(a * b));

    public override string ToString() => $"{Name} {ShapeText(Shape)}";

    /// <summary>A shape as checkpoints' errors print it: [256, 32].</summary>
    public static string ShapeText(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}

/// <summary>
/// Every tensor <see cref="CausalLM"/> builds for a <see cref="ModelConfig"/>, by name and shape, in state-dict order,
/// computed from the config alone: a loader compares it with what a weights file declares before anything is
/// allocated, so a config that disagrees with its weights (a typo of hidden_size, a config.json from another model)
/// is refused instead of building a model of that size. The listing is lazy: a config of two billion layers costs
/// only the entries a comparison reads before the first one that disagrees. Tested equal, name for name and shape for
/// shape, to the built model's state dict for every block kind.
/// </summary>
public static class ParameterShapes
{
    /// <summary>The state dict of the model <paramref name="config"/> builds (validated first), lazily, in state-dict order.</summary>
    public static IEnumerable<ParameterShape> Of(ModelConfig config)
    {
        var c = config.Validated();
        return Enumerate(c);
    }

    /// <summary>The tensors of <see cref="Of"/> that train under <paramref name="freeze"/> (<see cref="TrainingConfig.Freeze"/>):
    /// those no pattern names. All of them when it is null or empty. A tied head is the embedding's tensor, so it trains
    /// exactly when <c>model.embed_tokens</c> does.</summary>
    public static IEnumerable<ParameterShape> Trainable(ModelConfig config, IReadOnlyList<string>? freeze) =>
        Of(config).Where(p => Trains(p.Name, freeze));

    /// <summary>The head's weight: the token embedding's tensor when the head is tied, else lm_head's.</summary>
    public static string HeadWeight(ModelConfig config) => config.TieEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight";

    /// <summary>Whether the tensor <paramref name="name"/> trains under <paramref name="freeze"/>: no pattern names it.</summary>
    public static bool Trains(string name, IReadOnlyList<string>? freeze) =>
        freeze is null || !freeze.Any(f => ParameterPattern.Parse(f).Matches(name));

    static IEnumerable<ParameterShape> Enumerate(ModelConfig c)
    {
        foreach (var p in Embeddings(c)) yield return p;
        for (int i = 0; i < c.NLayer; i++)
            foreach (var p in Layer(c, i)) yield return p;
        foreach (var p in Tail(c)) yield return p;
    }

    /// <summary>The tables before the blocks: the token embedding and, for learned positions, the position table.</summary>
    static IEnumerable<ParameterShape> Embeddings(ModelConfig c)
    {
        yield return new("model.embed_tokens.weight", [c.VocabSize, c.DModel]);
        if (c.Position == PositionKind.Learned) yield return new("model.embed_positions.weight", [c.ContextLength, c.DModel]);
    }

    /// <summary>What follows the blocks: the final norm, the U-net skip weights and an untied head.</summary>
    static IEnumerable<ParameterShape> Tail(ModelConfig c)
    {
        foreach (var p in Norm(c, "model.norm", c.DModel)) yield return p;
        if (c.SkipConnections) yield return new("model.skip_weights.weight", [c.NLayer / 2]);
        if (!c.TieEmbeddings) yield return new("lm_head.weight", [c.VocabSize, c.DModel]);
    }

    /// <summary>The tensors of decoder block <paramref name="layer"/>: norms, attention (with its options), feed-forward.</summary>
    public static IEnumerable<ParameterShape> Layer(ModelConfig c, int layer)
    {
        string p = $"model.layers.{layer}.";
        long d = c.DModel, hd = c.HeadDim, f = c.FfnHidden;
        var kind = c.AttentionFor(layer);
        long kv = kind == AttentionKind.Gqa ? c.NKvHead : c.NHead;
        foreach (var x in Norm(c, p + "input_layernorm", d)) yield return x;

        string a = p + "self_attn.";
        if (kind == AttentionKind.Differential)
        {
            // Registered on the module itself, so listed before its submodules.
            foreach (var name in new[] { "lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2" }) yield return new(a + name, [hd / 2]);
        }
        foreach (var x in Linear(c, a + "q_proj", c.NHead * hd, d)) yield return x;
        foreach (var x in Linear(c, a + "k_proj", kv * hd, d)) yield return x;
        foreach (var x in Linear(c, a + "v_proj", kv * hd, d)) yield return x;
        foreach (var x in Linear(c, a + "o_proj", d, c.NHead * hd)) yield return x;
        if (c.QkNorm)
        {
            long qk = kind == AttentionKind.Differential ? hd / 2 : hd;   // per head as Q and K are split
            yield return new(a + "q_norm.weight", [qk]);
            yield return new(a + "k_norm.weight", [qk]);
        }
        if (c.ValueEmbeddings) yield return new(a + "value_embed.weight", [c.VocabSize, kv * hd]);
        if (kind == AttentionKind.Differential) yield return new(a + "subln.weight", [hd]);

        foreach (var x in Norm(c, p + "post_attention_layernorm", d)) yield return x;
        string m = p + "mlp.";
        if (c.FeedForwardFor(layer) == FeedForwardKind.SwiGlu)
            foreach (var x in Linear(c, m + "gate_proj", f, d)) yield return x;
        foreach (var x in Linear(c, m + "up_proj", f, d)) yield return x;
        foreach (var x in Linear(c, m + "down_proj", d, f)) yield return x;
    }

    static IEnumerable<ParameterShape> Linear(ModelConfig c, string name, long output, long input)
    {
        yield return new(name + ".weight", [output, input]);   // nn.Linear's (out, in)
        if (c.Bias) yield return new(name + ".bias", [output]);
    }

    static IEnumerable<ParameterShape> Norm(ModelConfig c, string name, long dim)
    {
        yield return new(name + ".weight", [dim]);
        if (c.Norm == NormKind.LayerNorm && c.Bias) yield return new(name + ".bias", [dim]);
    }

    /// <summary>
    /// The number of parameters <paramref name="config"/> builds, in closed form over one period of its layer kinds (a
    /// double: a mistyped config may describe more than 2^63). What an error quotes when a config and its weights disagree.
    /// </summary>
    public static double Count(ModelConfig config)
    {
        var c = config.Validated();
        // Layer i's tensors depend on i only through AttentionFor(i) and FeedForwardFor(i): one period of the two lists.
        int period = (int)Math.Min(c.NLayer, Lcm(c.AttentionKinds.Count, c.FeedForwardKinds.Count));
        double layers = 0;
        for (int i = 0; i < period; i++)
            layers += Elements(Layer(c, i)) * ((c.NLayer - 1 - i) / period + 1);   // layers i, i + period, ... below n_layer
        return Elements(Embeddings(c)) + layers + Elements(Tail(c));
    }

    static double Elements(IEnumerable<ParameterShape> tensors) => tensors.Sum(p => p.Shape.Aggregate(1.0, (a, b) => a * b));

    static long Lcm(long a, long b)
    {
        long x = a, y = b;
        while (y != 0) (x, y) = (y, x % y);
        return a / x * b;
    }
}

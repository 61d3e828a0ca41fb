namespace LMHarness.Config;

/// <summary>
/// Named model configs: the original harness's table (Llama-style GQA/SwiGLU/RoPE/RMSNorm models from 220M to 1B, and
/// GPT-2 124M) plus CPU-sized models that train in minutes. Every preset is a plain <see cref="ModelConfig"/>, so
/// change anything with <c>with</c>, e.g. <c>Presets.Get("nanogpt-cpu") with { VocabSize = tokenizer.VocabSize }</c>.
/// </summary>
public static class Presets
{
    /// <summary>The preset used when none is named.</summary>
    public const string DefaultName = "llama3-220M";

    /// <summary>One row of the table: name, what it is for, and the config.</summary>
    public sealed record Preset(string Name, string Description, ModelConfig Config);

    // Llama family: pre-norm RMSNorm, GQA, SwiGLU, RoPE, no biases, tied embeddings, GPT-2 vocab padded to 50304
    // (a multiple of 64: faster matmuls, Karpathy's nanoGPT trick).
    private static ModelConfig Llama(int layers, int d, int heads, int kvHeads, int ffn, double theta = 10000) => new()
    {
        VocabSize = 50304,
        ContextLength = 1024,
        NLayer = layers,
        DModel = d,
        NHead = heads,
        NKvHead = kvHeads,
        FfnHidden = ffn,
        AttentionKinds = [AttentionKind.Gqa],
        FeedForwardKinds = [FeedForwardKind.SwiGlu],
        Position = PositionKind.Rope,
        RopeTheta = theta,
        Norm = NormKind.RmsNorm,
        Bias = false,
    };

    // nanoGPT's CPU recipe (README "I only have a macbook"): n_layer 4, n_head 4, n_embd 128, block_size 64,
    // dropout 0, bias False (train.py's default), on the 65-character Shakespeare vocabulary.
    private static readonly ModelConfig NanoGptCpu = new()
    {
        VocabSize = 65,
        ContextLength = 64,
        NLayer = 4,
        DModel = 128,
        NHead = 4,
        NKvHead = 4,
        FfnHidden = 512,
        AttentionKinds = [AttentionKind.Mha],
        FeedForwardKinds = [FeedForwardKind.Mlp],
        Position = PositionKind.Learned,
        Norm = NormKind.LayerNorm,
        Bias = false,
        Dropout = 0,
    };

    // The same size with the modern blocks. GQA (2 K/V heads) and no position table free parameters, which the SwiGLU
    // width takes back: 4 (3 d^2 + 3 d f + 2 d) + d + V d. Exact equality needs f = 389.3; f = 392 keeps the width a
    // multiple of 8 (an odd width ran the SwiGLU matmuls ~1.5x slower here) for 808,192 parameters at V = 65 against
    // nanogpt-cpu's 804,096 (+0.5 %, the same 4,096 apart at any vocabulary size).
    private static readonly ModelConfig LlamaCpu = Llama(4, 128, 4, 2, 392) with { VocabSize = 65, ContextLength = 64 };

    private static readonly Preset[] Table =
    [
        new("llama3-220M", "default: Llama-3-style 12L d1024 16h/8kv SwiGLU 3584, RoPE 500k, ~221M", Llama(12, 1024, 16, 8, 3584, theta: 500000)),
        new("smol", "deep-narrow 30L d512 8h/4kv SwiGLU 1408, ~114M", Llama(30, 512, 8, 4, 1408)),
        new("smed", "30L d768 12h/6kv SwiGLU 2048, ~233M", Llama(30, 768, 12, 6, 2048)),
        new("med", "32L d960 15h/5kv SwiGLU 2560, ~363M", Llama(32, 960, 15, 5, 2560)),
        new("1B", "Llama-3.2-1B shape 16L d2048 32h/8kv SwiGLU 8192, ~1.13B, layers alternate GQA / differential attention",
            Llama(16, 2048, 32, 8, 8192, theta: 500000) with { AttentionKinds = [AttentionKind.Gqa, AttentionKind.Differential] }),
        new("gpt2-124M", "GPT-2 small: 12L d768 12h GELU 3072, learned positions, LayerNorm, biases, ~124M",
            new ModelConfig
            {
                VocabSize = 50304, ContextLength = 1024, NLayer = 12, DModel = 768, NHead = 12, NKvHead = 12, FfnHidden = 3072,
                AttentionKinds = [AttentionKind.Mha], FeedForwardKinds = [FeedForwardKind.Mlp], Position = PositionKind.Learned,
                Norm = NormKind.LayerNorm, Bias = true,
            }),
        new("nanogpt-cpu", "nanoGPT's CPU recipe: 4L d128 4h GELU 512, learned positions, LayerNorm, context 64, char vocab 65", NanoGptCpu),
        new("llama-cpu", "nanogpt-cpu's size with RoPE, GQA (2 kv), SwiGLU 392, RMSNorm: parameter count within 0.5 %", LlamaCpu),
        new("diff-cpu", "llama-cpu with every other layer differential attention", LlamaCpu with { AttentionKinds = [AttentionKind.Gqa, AttentionKind.Differential] }),
    ];

    /// <summary>Every preset, in table order.</summary>
    public static IReadOnlyList<Preset> All => Table;

    /// <summary>Preset names, in table order.</summary>
    public static IReadOnlyList<string> Names { get; } = Table.Select(p => p.Name).ToArray();

    /// <summary>The config of preset <paramref name="name"/> (case-insensitive); an unknown name lists the known ones.</summary>
    public static ModelConfig Get(string name) =>
        Table.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))?.Config.Validated()
        ?? throw new ArgumentException($"unknown model preset '{name}': choose one of {string.Join(", ", Names)}");

    /// <summary>The default preset (<see cref="DefaultName"/>).</summary>
    public static ModelConfig Default() => Get(DefaultName);
}

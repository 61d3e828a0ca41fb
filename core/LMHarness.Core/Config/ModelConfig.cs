using System.Text.Json;
using System.Text.Json.Serialization;

namespace LMHarness.Config;

/// <summary>How attention mixes tokens. Layer i uses <c>AttentionKinds[i % AttentionKinds.Count]</c>.</summary>
[JsonConverter(typeof(NamedEnumConverter<AttentionKind>))]
public enum AttentionKind
{
    /// <summary>Written out by hand: softmax(QK^T/sqrt(d) + causal mask) V (Vaswani et al. 2017).</summary>
    Raw,
    /// <summary>Multi-head attention through the fused scaled-dot-product kernel; K/V have n_head heads.</summary>
    Mha,
    /// <summary>Grouped-query attention (Ainslie et al. 2023): n_kv_head K/V heads shared by n_head/n_kv_head query heads; n_kv_head = 1 is MQA (Shazeer 2019).</summary>
    Gqa,
    /// <summary>Differential attention (Ye et al. 2024): the difference of two softmax maps with a learned lambda.</summary>
    Differential,
}

/// <summary>The position-wise feed-forward network of each block.</summary>
[JsonConverter(typeof(NamedEnumConverter<FeedForwardKind>))]
public enum FeedForwardKind
{
    /// <summary>GPT-2 MLP: W2 GELU(W1 x) (Radford et al. 2019).</summary>
    Mlp,
    /// <summary>Gated MLP: W_down (SiLU(W_gate x) * W_up x) (Shazeer 2020, "GLU Variants Improve Transformer").</summary>
    SwiGlu,
    /// <summary>Squared-ReLU MLP: W_down relu(W_up x)^2 (So et al. 2021, "Primer"; modded-nanogpt).</summary>
    Relu2,
}

/// <summary>How token positions enter the model.</summary>
[JsonConverter(typeof(NamedEnumConverter<PositionKind>))]
public enum PositionKind
{
    /// <summary>Learned absolute position embedding added to the token embedding (GPT-2).</summary>
    Learned,
    /// <summary>Rotary embedding of Q and K (Su et al. 2021), optionally YaRN-scaled (Peng et al. 2023).</summary>
    Rope,
    /// <summary>No positional information at all; causality alone orders tokens (Kazemnejad et al. 2023).</summary>
    None,
}

/// <summary>Normalisation used before each residual branch and at the end.</summary>
[JsonConverter(typeof(NamedEnumConverter<NormKind>))]
public enum NormKind
{
    /// <summary>RMSNorm: x / sqrt(mean(x^2) + eps) * g (Zhang and Sennrich 2019).</summary>
    RmsNorm,
    /// <summary>LayerNorm: (x - mean) / sqrt(var + eps) * g + b (Ba et al. 2016).</summary>
    LayerNorm,
}

/// <summary>How initialisation, learning rates and multipliers scale with width (see <see cref="ModelConfig.Parametrization"/>).</summary>
[JsonConverter(typeof(NamedEnumConverter<Parametrization>))]
public enum Parametrization
{
    /// <summary>Standard parametrization: init_std and the learning rates as given, attention 1/sqrt(d_head), logits h W^T.</summary>
    Sp,
    /// <summary>Maximal update parametrization for the Adam family (Tensor Programs V, Yang et al. 2022): relative to
    /// mup_base_width, hidden matrices' init std x sqrt(base/width) and Adam learning rate x base/width, logits x base/width,
    /// attention sqrt(base_head_dim)/d_head; equal to SP at the base width (<c>LMHarness.Model.MupScaling</c>).</summary>
    Mup,
}

/// <summary>
/// YaRN scaling of RoPE for contexts longer than the one trained (Peng et al. 2023, "YaRN: Efficient Context
/// Window Extension of Large Language Models"): frequencies are interpolated by <see cref="Factor"/> for
/// wavelengths longer than the original context, kept for short ones, blended between <see cref="BetaSlow"/>
/// and <see cref="BetaFast"/> rotations, and cos/sin (so q and k) are scaled by mscale = 0.1 ln(Factor) + 1, i.e. the attention logits by mscale^2.
/// </summary>
public sealed record YarnScaling(double Factor, int OriginalContextLength, double BetaFast = 32, double BetaSlow = 1);

/// <summary>
/// One immutable description of a decoder-only language model. Every block is chosen here; the model is built
/// from it and nothing else. Serialises to JSON with snake_case names (<see cref="ToJson"/>, <see cref="FromJson(string, string)"/>).
/// </summary>
public sealed record ModelConfig
{
    public int VocabSize { get; init; } = 50304;
    /// <summary>Maximum sequence length the model is trained at (and the size of a learned position table).</summary>
    public int ContextLength { get; init; } = 1024;
    public int NLayer { get; init; } = 12;
    public int DModel { get; init; } = 768;
    public int NHead { get; init; } = 12;
    /// <summary>K/V heads for <see cref="AttentionKind.Gqa"/>; must divide <see cref="NHead"/>. Other kinds use NHead.</summary>
    public int NKvHead { get; init; } = 12;
    /// <summary>Hidden width of the feed-forward network.</summary>
    public int FfnHidden { get; init; } = 3072;
    public IReadOnlyList<AttentionKind> AttentionKinds { get; init; } = [AttentionKind.Mha];
    public IReadOnlyList<FeedForwardKind> FeedForwardKinds { get; init; } = [FeedForwardKind.Mlp];
    public PositionKind Position { get; init; } = PositionKind.Learned;
    public double RopeTheta { get; init; } = 10000;
    public YarnScaling? Yarn { get; init; }
    public NormKind Norm { get; init; } = NormKind.LayerNorm;
    public double NormEps { get; init; } = 1e-5;
    /// <summary>Biases in linear layers (GPT-2 has them, Llama does not).</summary>
    public bool Bias { get; init; } = true;
    public double Dropout { get; init; }
    /// <summary>LM head shares the token embedding matrix (Press and Wolf 2017).</summary>
    public bool TieEmbeddings { get; init; } = true;
    /// <summary>Recompute each block's activations in backward instead of storing them (Chen et al. 2016).</summary>
    public bool RecomputeActivations { get; init; }
    public double InitStd { get; init; } = 0.02;

    /// <summary>RMS-normalise each head of q and k (learned gain per channel) after projection and before RoPE
    /// (Dehghani et al. 2023; Wortsman et al. 2023; modded-nanogpt): attention logits stay bounded.</summary>
    public bool QkNorm { get; init; }
    /// <summary>Soft cap c of the logits, logits = c tanh(logits / c) (Gemma 2, Team Gemma 2024; modded-nanogpt); 0 = off.</summary>
    public double LogitSoftcap { get; init; }
    /// <summary>Every layer adds its own token embedding to V (modded-nanogpt's value embeddings).</summary>
    public bool ValueEmbeddings { get; init; }
    /// <summary>U-net skips: outputs of the first n_layer / 2 blocks are added, last in first out with learned weights,
    /// to the inputs of the last n_layer / 2 blocks (modded-nanogpt).</summary>
    public bool SkipConnections { get; init; }
    /// <summary>o_proj, down_proj and an untied lm_head start at 0, so every block starts as the identity
    /// (modded-nanogpt; ReZero, Bachlechner et al. 2020; Fixup, Zhang et al. 2019).</summary>
    public bool ZeroInitOutputs { get; init; }

    /// <summary>sp (default) or mup (<see cref="LMHarness.Config.Parametrization"/>). Not written when sp, so configs and run
    /// identities from before this field existed are unchanged.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Parametrization Parametrization { get; init; } = Parametrization.Sp;
    /// <summary>μP's base width: the d_model the hyperparameters were tuned at, where μP equals SP. Required for mup; 0 (unwritten) for sp.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int MupBaseWidth { get; init; }
    /// <summary>μP's base head dimension; 0 means mup_base_width / n_head (heads grow with width, n_head fixed).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int MupBaseHeadDim { get; init; }
    /// <summary>μP's output multiplier α (MuReadout's output_mult): logits = (α / m) h W^T. A base-width hyperparameter,
    /// tuned there with the learning rate and init_std and kept as the model widens (Tensor Programs V, §4 and appendix
    /// F). 0 (unwritten) means 1, where μP at the base width is SP.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public double MupOutputMultiplier { get; init; }

    /// <summary>Channels per attention head, d_model / n_head (derived, not serialised).</summary>
    [JsonIgnore]
    public int HeadDim => DModel / NHead;
    public AttentionKind AttentionFor(int layer) => AttentionKinds[layer % AttentionKinds.Count];
    public FeedForwardKind FeedForwardFor(int layer) => FeedForwardKinds[layer % FeedForwardKinds.Count];

    /// <summary>This config with another vocabulary size (the tokenizer's). C# can write <c>config with { VocabSize = n }</c>;
    /// this is the same for F#, which cannot copy-and-update a C# record.</summary>
    public ModelConfig WithVocabSize(int vocabSize) => this with { VocabSize = vocabSize };

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Converters = { EnumNames.Converter() },
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Value equality over every field, lists compared element by element (the generated record equality would
    /// compare the kind lists by reference). Two configs are equal exactly when their JSON is.</summary>
    public bool Equals(ModelConfig? other) => other is not null && (ReferenceEquals(this, other) || ToJson() == other.ToJson());

    public override int GetHashCode() => ToJson().GetHashCode();

    public static ModelConfig FromJson(string json) => FromJson(json, "the model config JSON");

    /// <summary>
    /// Reads and validates a config; every error names <paramref name="source"/> (the file, e.g. <c>runs/x/config.json, section "model"</c>),
    /// and unknown keys and values of the wrong type are refused naming the field (<see cref="ConfigJson"/>).
    /// </summary>
    public static ModelConfig FromJson(string json, string source)
    {
        var config = ConfigJson.Read<ModelConfig>(json, Json, source);
        try { return config.Validated(); }
        catch (ArgumentException e) { throw new InvalidDataException($"{source}: {e.Message} Fix the file.", e); }
    }

    /// <summary>Returns this config when it can build a model; otherwise throws one error listing every problem and its fix.</summary>
    public ModelConfig Validated()
    {
        var problems = new List<string>();
        void Need(bool ok, string problem) { if (!ok) problems.Add(problem); }
        // A cast such as (PositionKind)7 names no kind: refused here, for configs built in code (JSON and knobs refuse numbers).
        Need(EnumNames.IsNamed(Position), $"position must be one of {EnumNames.List(typeof(PositionKind))} (got {Position})");
        Need(EnumNames.IsNamed(Norm), $"norm must be one of {EnumNames.List(typeof(NormKind))} (got {Norm})");
        Need(AttentionKinds.All(EnumNames.IsNamed), $"attention_kinds must list only {EnumNames.List(typeof(AttentionKind))} (got {string.Join(", ", AttentionKinds)})");
        Need(FeedForwardKinds.All(EnumNames.IsNamed), $"feed_forward_kinds must list only {EnumNames.List(typeof(FeedForwardKind))} (got {string.Join(", ", FeedForwardKinds)})");
        foreach (var (name, value) in new[] { ("rope_theta", RopeTheta), ("norm_eps", NormEps), ("dropout", Dropout), ("init_std", InitStd) })
            Need(double.IsFinite(value), $"{name} must be a finite number (got {value})");
        Need(Yarn is null || (double.IsFinite(Yarn.Factor) && double.IsFinite(Yarn.BetaFast) && double.IsFinite(Yarn.BetaSlow)), "yarn's factor, beta_fast and beta_slow must be finite numbers");
        Need(VocabSize > 0, $"vocab_size must be > 0 (got {VocabSize})");
        Need(ContextLength > 0, $"context_length must be > 0 (got {ContextLength})");
        Need(NLayer > 0, $"n_layer must be > 0 (got {NLayer})");
        Need(DModel > 0, $"d_model must be > 0 (got {DModel})");
        Need(NHead > 0, $"n_head must be > 0 (got {NHead})");
        Need(NKvHead > 0, $"n_kv_head must be > 0 (got {NKvHead})");
        Need(FfnHidden > 0, $"ffn_hidden must be > 0 (got {FfnHidden})");
        Need(NHead <= 0 || DModel % NHead == 0, $"d_model ({DModel}) must be divisible by n_head ({NHead}): pick n_head among its divisors");
        Need(NKvHead <= 0 || NHead % NKvHead == 0, $"n_head ({NHead}) must be divisible by n_kv_head ({NKvHead}) for grouped-query attention");
        Need(Position != PositionKind.Rope || NHead <= 0 || HeadDim % 2 == 0, $"rotary embedding needs an even head_dim (d_model / n_head = {(NHead > 0 ? HeadDim : 0)})");
        Need(AttentionKinds.Count > 0, "attention_kinds must list at least one kind");
        Need(FeedForwardKinds.Count > 0, "feed_forward_kinds must list at least one kind");
        Need(!AttentionKinds.Contains(AttentionKind.Differential) || NHead <= 0 || HeadDim % 2 == 0, $"differential attention splits each head in two: head_dim ({(NHead > 0 ? HeadDim : 0)}) must be even");
        Need(!AttentionKinds.Contains(AttentionKind.Differential) || Position != PositionKind.Rope || NHead <= 0 || HeadDim % 4 == 0, $"differential attention with rope rotates half-heads: head_dim ({(NHead > 0 ? HeadDim : 0)}) must be divisible by 4");
        Need(Dropout is >= 0 and < 1, $"dropout must be in [0, 1) (got {Dropout})");
        Need(NormEps > 0, $"norm_eps must be > 0 (got {NormEps})");
        Need(RopeTheta > 0, $"rope_theta must be > 0 (got {RopeTheta})");
        Need(Yarn is null || Position == PositionKind.Rope, "yarn scaling applies to rotary positions only: set position to rope or remove yarn");
        Need(Yarn is null || (Yarn.Factor >= 1 && Yarn.OriginalContextLength > 0), "yarn needs factor >= 1 and original_context_length > 0");
        Need(InitStd > 0, $"init_std must be > 0 (got {InitStd})");
        Need(double.IsFinite(LogitSoftcap) && LogitSoftcap >= 0, $"logit_softcap must be a finite number >= 0 (0 turns it off; got {LogitSoftcap})");
        Need(EnumNames.IsNamed(Parametrization), $"parametrization must be one of {EnumNames.List(typeof(Parametrization))} (got {Parametrization})");
        Need(Parametrization != Parametrization.Mup || MupBaseWidth > 0, $"parametrization mup needs mup_base_width > 0, the d_model the learning rate was tuned at (got {MupBaseWidth})");
        Need(Parametrization == Parametrization.Mup || (MupBaseWidth == 0 && MupBaseHeadDim == 0 && MupOutputMultiplier == 0), "mup_base_width, mup_base_head_dim and mup_output_multiplier apply to parametrization mup only: set parametrization to mup or remove them");
        Need(double.IsFinite(MupOutputMultiplier) && MupOutputMultiplier >= 0, $"mup_output_multiplier must be a finite number >= 0 (0 means 1; got {MupOutputMultiplier})");
        Need(MupBaseHeadDim >= 0, $"mup_base_head_dim must be >= 0 (0 means mup_base_width / n_head; got {MupBaseHeadDim})");
        Need(Parametrization != Parametrization.Mup || MupBaseHeadDim > 0 || NHead <= 0 || MupBaseWidth <= 0 || MupBaseWidth % NHead == 0, $"mup_base_width ({MupBaseWidth}) must be divisible by n_head ({NHead}) to give the base head dimension, or set mup_base_head_dim");
        Need(!SkipConnections || NLayer >= 2, $"skip_connections joins the first n_layer / 2 blocks to the last ones: it needs n_layer >= 2 (got {NLayer})");
        if (problems.Count > 0)
            throw new ArgumentException("Invalid model config: " + string.Join("; ", problems) + ".");
        return this;
    }
}

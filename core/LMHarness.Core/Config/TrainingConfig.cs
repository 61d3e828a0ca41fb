using System.Text.Json;
using System.Text.Json.Serialization;
using LMHarness.IO;
namespace LMHarness.Config;

/// <summary>Learning-rate schedule shape (see LMHarness.Training.Schedules.LearningRateSchedule).</summary>
[JsonConverter(typeof(NamedEnumConverter<ScheduleKind>))]
public enum ScheduleKind
{
    /// <summary>Linear warm-up, then half a cosine from lr to min_lr (Loshchilov and Hutter 2017, SGDR).</summary>
    Cosine,
    /// <summary>Linear warm-up, then a straight line from lr to min_lr.</summary>
    Linear,
    /// <summary>Linear warm-up, then lr for ever.</summary>
    Constant,
    /// <summary>Warm-up, stable at lr, linear decay to min_lr over the last decay_fraction of steps (Hu et al. 2024, MiniCPM).</summary>
    WarmupStableDecay,
}

/// <summary>Which update rule moves the weights.</summary>
[JsonConverter(typeof(NamedEnumConverter<OptimizerKind>))]
public enum OptimizerKind
{
    /// <summary>AdamW (Loshchilov and Hutter 2019): Adam with decoupled weight decay.</summary>
    [JsonStringEnumMemberName("adamw")]
    AdamW,
    /// <summary>Muon (Jordan et al. 2024) for 2-D hidden weights, AdamW for embeddings, norms, head and biases.</summary>
    Muon,
    /// <summary>AdEMAMix (Pagliardini et al. 2024): Adam with a second, slow momentum EMA mixed in.</summary>
    [JsonStringEnumMemberName("ademamix")]
    AdEMAMix,
}

/// <summary>Numeric type of the forward/backward compute. Master weights and optimizer state are always fp32.</summary>
[JsonConverter(typeof(NamedEnumConverter<TrainingDtype>))]
public enum TrainingDtype
{
    Fp32,
    /// <summary>bfloat16 compute copy of the model; gradients are cast back to fp32 master weights (Micikevicius et al. 2018, mixed precision).</summary>
    Bf16,
}

/// <summary>Whether the next-token loss runs fused with the head (LMHarness.Model.FusedLinearCrossEntropy: the logits in tiles, never all at once).</summary>
[JsonConverter(typeof(NamedEnumConverter<FusedLossMode>))]
public enum FusedLossMode
{
    /// <summary>Fused where a batch's fp32 logits would be more than one tile (LMHarness.Training.NextTokenLoss.Fused).</summary>
    Auto,
    /// <summary>Always fused (for a CausalLM: other modules have no head to fuse with).</summary>
    On,
    /// <summary>Always the full (B, T, vocab) logits, then the loss.</summary>
    Off,
}

/// <summary>
/// Everything that decides how a model is trained, and nothing about the model itself. Immutable; serialises to
/// JSON with snake_case names (<see cref="ToJson"/>, <see cref="FromJson(string, string)"/>). One optimizer step consumes
/// micro_batch x grad_accumulation sequences of context_length tokens.
/// </summary>
public sealed record TrainingConfig
{
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.AdamW;
    /// <summary>Peak learning rate (reached at the end of warm-up).</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Learning rate at the end of the decay.</summary>
    public double MinLearningRate { get; init; } = 1e-4;
    public int WarmupSteps { get; init; } = 100;
    public ScheduleKind Schedule { get; init; } = ScheduleKind.Cosine;
    /// <summary>Fraction of the run spent decaying in <see cref="ScheduleKind.WarmupStableDecay"/>.</summary>
    public double DecayFraction { get; init; } = 0.2;
    /// <summary>Decoupled weight decay, applied to tensors with >= 2 dimensions only (matmul weights and embeddings).</summary>
    public double WeightDecay { get; init; } = 0.1;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.99;
    public double Eps { get; init; } = 1e-8;
    /// <summary>Clip the global gradient L2 norm to this value; 0 disables clipping.</summary>
    public double GradClip { get; init; } = 1.0;

    /// <summary>
    /// Peak AdamW learning rate of the embedding tables (token, learned position and value embeddings; the head too
    /// when it is tied); 0 = <see cref="LearningRate"/>. This and the three below give the groups modded-nanogpt
    /// tunes apart (Keller Jordan et al. 2024: embeddings 0.6, head 0.008, scalars 0.04 with Adam, matrices under
    /// Muon). Every group follows the one schedule: its rate at a step is its peak times lr(step) / learning_rate.
    /// </summary>
    public double EmbeddingLearningRate { get; init; }
    /// <summary>Peak AdamW learning rate of an untied <c>lm_head</c>; 0 = <see cref="LearningRate"/>.</summary>
    public double HeadLearningRate { get; init; }
    /// <summary>Peak learning rate of the 2-D weights inside the blocks under AdamW or AdEMAMix; 0 = <see cref="LearningRate"/>.
    /// With Muon those matrices take <see cref="MuonLearningRate"/>, so this must stay 0.</summary>
    public double MatrixLearningRate { get; init; }
    /// <summary>Peak AdamW learning rate of the 1-D tensors (norm gains, biases, skip weights, lambdas); 0 = <see cref="LearningRate"/>.</summary>
    public double ScalarLearningRate { get; init; }

    /// <summary>Muon's learning rate for hidden 2-D weights (scaled by the same schedule as <see cref="LearningRate"/>).</summary>
    public double MuonLearningRate { get; init; } = 0.02;
    public double MuonMomentum { get; init; } = 0.95;
    /// <summary>AdEMAMix slow EMA coefficient (final value of its schedule).</summary>
    public double Beta3 { get; init; } = 0.9999;
    /// <summary>AdEMAMix weight of the slow EMA (final value of its schedule).</summary>
    public double Alpha { get; init; } = 5.0;
    /// <summary>Steps over which AdEMAMix ramps alpha and beta3 up; 0 = the whole run (as in the paper).</summary>
    public int AlphaBeta3Warmup { get; init; }

    /// <summary>Sequences per forward/backward pass.</summary>
    public int MicroBatch { get; init; } = 12;
    /// <summary>Micro-batches whose gradients are summed (averaged) before one optimizer step.</summary>
    public int GradAccumulation { get; init; } = 1;
    public int ContextLength { get; init; } = 64;
    /// <summary>Stop after this many optimizer steps (used when <see cref="MaxTokens"/> is 0).</summary>
    public int MaxSteps { get; init; } = 2000;
    /// <summary>Token budget; when > 0 the run length is ceil(max_tokens / tokens_per_step) steps instead of max_steps.</summary>
    public long MaxTokens { get; init; }

    public int EvalInterval { get; init; } = 250;
    public int EvalBatches { get; init; } = 200;
    public int LogInterval { get; init; } = 10;
    /// <summary>Steps between gradient-flow rows (gradflow.csv); 0 disables.</summary>
    public int GradFlowInterval { get; init; } = 100;
    /// <summary>Steps between checkpoints; 0 = only at the end (and on Ctrl-C).</summary>
    public int CheckpointInterval { get; init; } = 500;
    public int KeepCheckpoints { get; init; } = 2;

    public long Seed { get; init; } = 1337;
    public TrainingDtype Dtype { get; init; } = TrainingDtype.Fp32;
    /// <summary>Head and loss fused, tile by tile, in training and evaluation: auto, on or off. It changes the loss's
    /// rounding (not its value), so it is part of the run's substance.</summary>
    public FusedLossMode FusedLoss { get; init; } = FusedLossMode.Auto;
    /// <summary>Torch intra-op threads; 0 keeps the default.</summary>
    public int Threads { get; init; }
    /// <summary>"cpu", "cuda", "cuda:1"; empty = cuda when available, else cpu (env LMHARNESS_DEVICE overrides).</summary>
    public string Device { get; init; } = "";
    /// <summary>Peak FLOP/s used for MFU; 0 = measured once per process for the run's device and dtype.</summary>
    public double PeakFlops { get; init; }
    /// <summary>Also write TensorBoard event files into the run folder's tb/ directory.</summary>
    public bool TensorBoard { get; init; }

    /// <summary>
    /// Start from a pretrained model instead of random weights (nanoGPT's init_from): an HF checkpoint folder, a harness
    /// export, a run folder (its newest intact checkpoint) or a <c>step_*.ckpt</c>; empty = from scratch. The model is
    /// built from the source's config; the schedule starts fresh, and the optimizer state too unless
    /// <see cref="InitOptimizer"/> (LMHarness.Interop.InitSource).
    /// </summary>
    public string InitFrom { get; init; } = "";
    /// <summary>
    /// SHA-256 of the <see cref="InitFrom"/> source's content, filled in when the run is set up. It, not the path, is
    /// what the run's identity holds, so an edited or replaced source is a new run; a value given must match the
    /// source, which pins it.
    /// </summary>
    public string InitFromSha256 { get; init; } = "";

    /// <summary>
    /// Parameters that keep their initial values (fine-tuning part of a model, usually with <see cref="InitFrom"/>):
    /// name patterns (<see cref="ParameterPattern"/>), e.g. <c>["model.embed_tokens", "model.layers.0-3"]</c>. They get
    /// no gradient, no optimizer state and no weight decay. Null (unwritten, so configs and run identities from before
    /// this field are unchanged) or empty = everything trains; a pattern that matches no parameter is refused.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? Freeze { get => _freeze; init => _freeze = value is { Count: > 0 } ? value : null; }
    readonly IReadOnlyList<string>? _freeze;

    /// <summary>
    /// Start the optimizer from the <see cref="InitFrom"/> checkpoint's state (Adam's moments and step count, Muon's
    /// momentum) instead of from zero: continuing a run on new data, or with a new schedule, without the restart a cold
    /// optimizer makes. The hyperparameters (learning rates, betas, weight decay) and the schedule are this run's. The
    /// source must be a harness run or checkpoint trained with the same optimizer, freeze and learning-rate groups.
    /// Unwritten while false, so configs and run identities from before this field are unchanged.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool InitOptimizer { get; init; }

    [Derived("micro_batch x grad_accumulation x context_length", "micro_batch, grad_accumulation or context_length")]
    public int TokensPerStep => MicroBatch * GradAccumulation * ContextLength;

    /// <summary>
    /// This config without the fields that cannot change what a run computes: where and how fast it runs (threads,
    /// device, peak_flops), what it writes on the side (tensor_board, log_interval, grad_flow_interval,
    /// checkpoint_interval, keep_checkpoints) and where its init_from source lies (its content hash stays). Two runs
    /// whose substance, model and data agree produce the same results.
    /// </summary>
    [JsonIgnore]
    public TrainingConfig Substance => this with
    {
        Threads = 0, Device = "", PeakFlops = 0, TensorBoard = false, LogInterval = 1, GradFlowInterval = 0,
        CheckpointInterval = 0, KeepCheckpoints = 1, InitFrom = InitFrom.Length > 0 ? "(source)" : "",
    };
    /// <summary>Optimizer steps this run takes.</summary>
    [Derived("max_steps, or max_tokens / tokens_per_step rounded up when max_tokens > 0", "max_steps or max_tokens")]
    public int TotalSteps => MaxTokens > 0 && TokensPerStep > 0 ? (int)Math.Min(int.MaxValue, (MaxTokens + TokensPerStep - 1) / TokensPerStep) : MaxSteps;

    public static readonly JsonSerializerOptions Json = ModelConfig.Json;

    // By content, as ModelConfig: the record's own equality would compare the freeze list by reference.
    public bool Equals(TrainingConfig? other) => other is not null && (ReferenceEquals(this, other) || ToJson() == other.ToJson());
    public override int GetHashCode() => ToJson().GetHashCode();

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static TrainingConfig FromJson(string json) => FromJson(json, "the training config JSON");

    /// <summary>Reads and validates a config; errors name <paramref name="source"/> and the field (<see cref="ConfigJson"/>).</summary>
    public static TrainingConfig FromJson(string json, string source)
    {
        var config = ConfigJson.Read<TrainingConfig>(json, Json, source);
        try { return config.Validated(); }
        catch (ArgumentException e) { throw new InvalidDataException($"{source}: {e.Message} Fix the file.", e); }
    }

    /// <summary>Returns this config when a run can use it; otherwise throws one error listing every problem and its fix.</summary>
    public TrainingConfig Validated()
    {
        var problems = new List<string>();
        void Need(bool ok, string problem) { if (!ok) problems.Add(problem); }
        Need(EnumNames.IsNamed(Optimizer), $"optimizer must be one of {EnumNames.List(typeof(OptimizerKind))} (got {Optimizer})");
        Need(EnumNames.IsNamed(Schedule), $"schedule must be one of {EnumNames.List(typeof(ScheduleKind))} (got {Schedule})");
        Need(EnumNames.IsNamed(Dtype), $"dtype must be one of {EnumNames.List(typeof(TrainingDtype))} (got {Dtype})");
        Need(EnumNames.IsNamed(FusedLoss), $"fused_loss must be one of {EnumNames.List(typeof(FusedLossMode))} (got {FusedLoss})");
        foreach (var (name, value) in new[] { ("learning_rate", LearningRate), ("min_learning_rate", MinLearningRate), ("decay_fraction", DecayFraction),
                     ("weight_decay", WeightDecay), ("eps", Eps), ("grad_clip", GradClip), ("muon_learning_rate", MuonLearningRate), ("alpha", Alpha), ("peak_flops", PeakFlops) })
            Need(double.IsFinite(value), $"{name} must be a finite number (got {value})");
        Need(LearningRate > 0, $"learning_rate must be > 0 (got {LearningRate})");
        Need(MinLearningRate >= 0 && MinLearningRate <= LearningRate, $"min_learning_rate must be in [0, learning_rate] (got {MinLearningRate}, learning_rate {LearningRate})");
        Need(WarmupSteps >= 0, $"warmup_steps must be >= 0 (got {WarmupSteps})");
        Need(DecayFraction is > 0 and <= 1, $"decay_fraction must be in (0, 1] (got {DecayFraction})");
        Need(WeightDecay >= 0, $"weight_decay must be >= 0 (got {WeightDecay})");
        Need(Beta1 is >= 0 and < 1, $"beta1 must be in [0, 1) (got {Beta1})");
        Need(Beta2 is >= 0 and < 1, $"beta2 must be in [0, 1) (got {Beta2})");
        Need(Beta3 is >= 0 and < 1, $"beta3 must be in [0, 1) (got {Beta3})");
        Need(Eps > 0, $"eps must be > 0 (got {Eps})");
        Need(GradClip >= 0, $"grad_clip must be >= 0 (0 disables it; got {GradClip})");
        Need(MuonLearningRate > 0, $"muon_learning_rate must be > 0 (got {MuonLearningRate})");
        foreach (var (name, value) in new[] { ("embedding_learning_rate", EmbeddingLearningRate), ("head_learning_rate", HeadLearningRate),
                     ("matrix_learning_rate", MatrixLearningRate), ("scalar_learning_rate", ScalarLearningRate) })
            Need(double.IsFinite(value) && value >= 0, $"{name} must be >= 0 (0 = learning_rate; got {value})");
        Need(MatrixLearningRate == 0 || Optimizer != OptimizerKind.Muon, $"matrix_learning_rate ({MatrixLearningRate}) does not apply with optimizer muon, whose matrices take muon_learning_rate ({MuonLearningRate}): set matrix_learning_rate 0 or tune muon_learning_rate");
        Need(MuonMomentum is >= 0 and < 1, $"muon_momentum must be in [0, 1) (got {MuonMomentum})");
        Need(Alpha >= 0, $"alpha must be >= 0 (got {Alpha})");
        Need(AlphaBeta3Warmup >= 0, $"alpha_beta3_warmup must be >= 0 (got {AlphaBeta3Warmup})");
        Need(MicroBatch > 0, $"micro_batch must be > 0 (got {MicroBatch})");
        Need(GradAccumulation > 0, $"grad_accumulation must be > 0 (got {GradAccumulation})");
        Need(ContextLength > 0, $"context_length must be > 0 (got {ContextLength})");
        // Products and quotients in int: a mistyped knob must not wrap around to a small or negative number.
        Need((long)MicroBatch * GradAccumulation * ContextLength <= int.MaxValue, $"micro_batch x grad_accumulation x context_length ({(long)MicroBatch * GradAccumulation * ContextLength}) must be at most {int.MaxValue} tokens per step");
        Need(MaxTokens <= 0 || TokensPerStep <= 0 || (MaxTokens + TokensPerStep - 1) / TokensPerStep < int.MaxValue, $"max_tokens ({MaxTokens}) is more than {int.MaxValue} steps of {TokensPerStep} tokens");
        Need(MaxSteps > 0 || MaxTokens > 0, $"set max_steps > 0 or max_tokens > 0 to say when to stop (got {MaxSteps} and {MaxTokens})");
        Need(MaxTokens >= 0, $"max_tokens must be >= 0 (got {MaxTokens})");
        Need(EvalInterval > 0, $"eval_interval must be > 0 (got {EvalInterval})");
        Need(EvalBatches > 0, $"eval_batches must be > 0 (got {EvalBatches})");
        Need(LogInterval > 0, $"log_interval must be > 0 (got {LogInterval})");
        Need(GradFlowInterval >= 0, $"grad_flow_interval must be >= 0 (got {GradFlowInterval})");
        Need(CheckpointInterval >= 0, $"checkpoint_interval must be >= 0 (got {CheckpointInterval})");
        Need(KeepCheckpoints > 0, $"keep_checkpoints must be > 0 (got {KeepCheckpoints})");
        Need(Threads >= 0, $"threads must be >= 0 (got {Threads})");
        Need(PeakFlops >= 0, $"peak_flops must be >= 0 (0 measures it; got {PeakFlops})");
        Need(InitFrom is not null && InitFromSha256 is not null, "init_from and init_from_sha256 must be strings (\"\" = none)");
        Need(string.IsNullOrEmpty(InitFromSha256) || (ContentHash.IsHex(InitFromSha256) && !string.IsNullOrEmpty(InitFrom)),
            $"init_from_sha256 must be empty or the 64 lowercase hex digits of the init_from source's SHA-256, and needs init_from (got '{InitFromSha256}' with init_from '{InitFrom}')");
        Need(!InitOptimizer || !string.IsNullOrEmpty(InitFrom), "init_optimizer needs init_from: a run folder or step_*.ckpt whose optimizer state to start from");
        foreach (var pattern in Freeze ?? [])
            Need(ParameterPattern.TryParse(pattern, out var problem) is not null, $"freeze: {problem}; give parameter-name prefixes such as model.embed_tokens, model.layers.0-3 or model.layers.*.self_attn");
        Need(WarmupSteps < TotalSteps || Schedule == ScheduleKind.Constant, $"warmup_steps ({WarmupSteps}) must be shorter than the run ({TotalSteps} steps)");
        if (problems.Count > 0)
            throw new ArgumentException("Invalid training config: " + string.Join("; ", problems) + ".");
        return this;
    }
}

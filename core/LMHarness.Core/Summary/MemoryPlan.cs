using System.Globalization;
using System.Text;
using LMHarness.Config;
using LMHarness.Model;
using LMHarness.Runs;

namespace LMHarness.Summary;

/// <summary>One term of a <see cref="MemoryPlan"/>: a name, its bytes and how they were counted.</summary>
public sealed record MemoryTerm(string Name, long Bytes, string Formula);

/// <summary>One moment of a training step and the memory it adds to the persistent terms.</summary>
public sealed record MemoryPhase(string Name, IReadOnlyList<MemoryTerm> Terms)
{
    public long Bytes => Terms.Sum(t => t.Bytes);
}

/// <summary>
/// What a training run needs at its peak, from the configs alone, as persistent terms plus the largest of the step's
/// phases (N parameters, c the compute dtype's bytes, V the vocabulary):
/// <code>
/// peak = runtime + [CPU] warm-up + weights 4 N + gradients 4 N + optimizer state + [bf16] copy 2 N
///      + max( loss:       activations + logits and loss (+ earlier micro-batches' held logits, + [bf16, accumulation] gradients 2 N),
///             backward:   activations + one block's gradients + held logits (+ [bf16] gradients 2 N, or the head's c V d),
///             optimizer:  [bf16] gradients 2 N + held logits + the update's temporaries,
///             evaluation: [bf16] gradients 2 N + the evaluation's logits )
/// </code>
/// The weights, their gradients and the optimizer state are fp32 (a bf16 run keeps fp32 master weights and gradients;
/// its bf16 gradients exist from its backward until the next step clears them). Activations are
/// <see cref="ActivationMemory"/>, the loss <see cref="LossMemory"/>, the optimizer <see cref="OptimizerMemory"/>.
/// The runtime is the process before the model: on the CPU the .NET runtime, libtorch and the data (the trainer measures
/// it at the run's start); on a GPU the CUDA context.
/// <para>What it cannot know: the allocator's slack (glibc keeps freed blocks below its mmap threshold for reuse, so the
/// CPU's resident peak ran 10-15 % above the plan; the CUDA caching allocator keeps blocks reserved and fragments),
/// libtorch's workspaces (cuBLAS, cuDNN), and tensors other code keeps. docs/training.md, "The memory plan".</para>
/// </summary>
public sealed record MemoryPlan
{
    /// <summary>The runtime the plan assumes on the CPU where it cannot measure it: .NET and libtorch were ~300 MB resident here.</summary>
    public const long AssumedCpuRuntimeBytes = 320L << 20;

    /// <summary>
    /// What the CPU process takes once the first steps run, beyond the runtime at the run's start: libtorch's kernels and
    /// thread pools (oneDNN's generated code, OpenMP's workers) and the JIT's code for the training loop. Measured: a
    /// 40,064-parameter model (1 layer, d 32) peaked 81 MB above its start in the script host. A GPU plan leaves it out
    /// (it is host memory).
    /// </summary>
    public const long CpuWarmupBytes = 80L << 20;

    /// <summary>The runtime the plan assumes on a GPU: a CUDA context takes 0.3-0.5 GB of device memory.</summary>
    public const long AssumedCudaRuntimeBytes = 512L << 20;

    /// <summary>The plan for <paramref name="training"/> of <paramref name="model"/> with an assumed runtime
    /// (<see cref="AssumedCpuRuntimeBytes"/>, or <see cref="AssumedCudaRuntimeBytes"/> when <paramref name="cuda"/>).</summary>
    public static MemoryPlan For(ModelConfig model, TrainingConfig training, bool cuda = false) =>
        For(model, training, cuda ? AssumedCudaRuntimeBytes : AssumedCpuRuntimeBytes,
            cuda ? "assumed: a CUDA context" : "assumed: .NET and libtorch on the CPU", cuda);

    /// <summary>The plan with a runtime of <paramref name="runtimeBytes"/>, described by <paramref name="runtimeBasis"/>
    /// (e.g. "measured at the run's start"); <paramref name="cuda"/>: a plan of a GPU's memory.</summary>
    public static MemoryPlan For(ModelConfig model, TrainingConfig training, long runtimeBytes, string runtimeBasis, bool cuda = false)
    {
        var m = model.Validated();
        var t = training.Validated();
        long n = ModelSummary.Of(m).TotalParameters;
        // Frozen parameters (freeze) keep their weights and bf16 copies, but get no gradient and no optimizer state.
        var trainable = ParameterShapes.Trainable(m, t.Freeze).ToList();
        long nt = trainable.Sum(p => p.Elements);
        bool headTrains = ParameterShapes.Trains(ParameterShapes.HeadWeight(m), t.Freeze);
        bool bf16 = t.Dtype == TrainingDtype.Bf16;
        var activations = ActivationMemory.Of(m, t.MicroBatch, t.ContextLength, t.Dtype);
        var loss = LossMemory.For(m, t);
        var optimizer = OptimizerMemory.For(m, t.Optimizer, t.Freeze);
        return new MemoryPlan
        {
            MicroBatch = t.MicroBatch,
            GradAccumulation = t.GradAccumulation,
            ContextLength = t.ContextLength,
            Dtype = t.Dtype,
            Optimizer = t.Optimizer,
            RecomputeActivations = m.RecomputeActivations,
            Parameters = n,
            TrainableParameters = nt,
            Vocab = m.VocabSize,
            Cuda = cuda,
            RuntimeBytes = runtimeBytes,
            RuntimeBasis = runtimeBasis,
            WeightBytes = 4 * n,
            GradientBytes = 4 * nt,
            OptimizerStateBytes = optimizer.StateBytes,
            OptimizerStateFormula = optimizer.StateFormula,
            ComputeCopyBytes = bf16 ? 2 * n : 0,
            ComputeGradientBytes = bf16 ? 2 * nt : 0,
            HeadGradientBytes = bf16 && headTrains ? 2L * m.VocabSize * m.DModel : 0,
            ActivationBytes = activations.Total,
            ActivationFormula = DescribeActivations(m, t, activations),
            BackwardWorkspaceBytes = activations.BackwardWorkspace,
            LossRows = loss.Rows,
            LossPeakBytes = loss.PeakBytes,
            LossFormula = loss.Description,
            HeldLogitsBytes = loss.HeldBytesPerMicroBatch,
            EvaluationLossBytes = loss.EvaluationBytes,
            EvaluationLossFormula = loss.EvaluationDescription,
            OptimizerUpdateBytes = optimizer.UpdateBytes,
            OptimizerUpdateFormula = optimizer.UpdateFormula,
        };
    }

    public int MicroBatch { get; init; }
    public int GradAccumulation { get; init; }
    public int ContextLength { get; init; }
    public TrainingDtype Dtype { get; init; }
    public OptimizerKind Optimizer { get; init; }
    public bool RecomputeActivations { get; init; }
    public long Parameters { get; init; }
    /// <summary>The parameters that train: <see cref="Parameters"/> less those <see cref="TrainingConfig.Freeze"/> names.
    /// Gradients and optimizer state count these alone; the weights (and a bf16 copy) count every parameter.</summary>
    public long TrainableParameters { get; init; }
    public long Vocab { get; init; }

    /// <summary>A plan of a GPU's memory (compare it with the device's peak), else of the process's resident memory.</summary>
    public bool Cuda { get; init; }
    /// <summary>The process before the model (see the class summary), and where that figure comes from.</summary>
    public long RuntimeBytes { get; init; }
    public string RuntimeBasis { get; init; } = "";
    /// <summary>fp32 weights (a bf16 run's master): 4 N.</summary>
    public long WeightBytes { get; init; }
    /// <summary>fp32 gradients, kept between steps (zeroed, not freed): 4 N, of the parameters that train.</summary>
    public long GradientBytes { get; init; }
    public long OptimizerStateBytes { get; init; }
    public string OptimizerStateFormula { get; init; } = "";
    /// <summary>bf16: the compute copy of the weights, 2 N (0 in fp32).</summary>
    public long ComputeCopyBytes { get; init; }
    /// <summary>bf16: the compute copy's gradients, 2 N of the parameters that train, from a step's backward until the next step clears them.</summary>
    public long ComputeGradientBytes { get; init; }
    /// <summary>bf16: the head weight's gradient, the first one backward makes (2 V d; 0 when the head is frozen).</summary>
    public long HeadGradientBytes { get; init; }
    /// <summary>What one micro-batch's forward keeps for backward (<see cref="ActivationMemory.Total"/>).</summary>
    public long ActivationBytes { get; init; }
    public string ActivationFormula { get; init; } = "";
    /// <summary>The gradients of the block backward is in (<see cref="ActivationMemory.BackwardWorkspace"/>).</summary>
    public long BackwardWorkspaceBytes { get; init; }
    /// <summary>Rows of logits that exist at once (<see cref="LossMemory"/>).</summary>
    public long LossRows { get; init; }
    public long LossPeakBytes { get; init; }
    public string LossFormula { get; init; } = "";
    /// <summary>Logits the step keeps after each micro-batch's loss, until it ends.</summary>
    public long HeldLogitsBytes { get; init; }
    public long EvaluationLossBytes { get; init; }
    public string EvaluationLossFormula { get; init; } = "";
    public long OptimizerUpdateBytes { get; init; }
    public string OptimizerUpdateFormula { get; init; } = "";

    /// <summary>The terms that last the whole run.</summary>
    public IReadOnlyList<MemoryTerm> Persistent
    {
        get
        {
            var terms = new List<MemoryTerm>
            {
                new("runtime", RuntimeBytes, RuntimeBasis),
                new("weights", WeightBytes, $"fp32{(Dtype == TrainingDtype.Bf16 ? " master" : "")}: 4 B x {Count(Parameters)} parameters"),
                new("gradients", GradientBytes, TrainableParameters == Parameters ? "fp32: 4 B x N" : $"fp32: 4 B x {Count(TrainableParameters)} trained (the rest frozen)"),
                new(OptimizerName, OptimizerStateBytes, OptimizerStateFormula),
            };
            if (!Cuda) terms.Insert(1, new("warm-up", CpuWarmupBytes, "libtorch's kernels and threads, the JIT: taken in the first steps (measured, CPU)"));
            if (ComputeCopyBytes > 0) terms.Add(new("bf16 copy", ComputeCopyBytes, "2 B x N"));
            return terms;
        }
    }

    /// <summary>The step's moments, each with what it adds to <see cref="Persistent"/>.</summary>
    public IReadOnlyList<MemoryPhase> Phases
    {
        get
        {
            bool accumulating = GradAccumulation > 1;
            var bf16Gradients = new MemoryTerm("bf16 gradients", ComputeGradientBytes, TrainableParameters == Parameters ? "2 B x N" : $"2 B x {Count(TrainableParameters)} trained");
            MemoryTerm Held(int microBatches) => new("held logits", microBatches * HeldLogitsBytes,
                $"{microBatches} x 4 B x {Count(LossRows)} rows x {Count(Vocab)} (the step keeps each micro-batch's logits until it ends)");
            var activations = new MemoryTerm("activations", ActivationBytes, ActivationFormula);
            var loss = new List<MemoryTerm> { activations, new("logits and loss", LossPeakBytes, LossFormula) };
            var backward = new List<MemoryTerm> { activations, new("block gradients", BackwardWorkspaceBytes, RecomputeActivations ? "a block recomputed and its gradients" : "the largest block's") };
            var optimizer = new List<MemoryTerm>();
            var evaluation = new List<MemoryTerm>();
            if (accumulating && HeldLogitsBytes > 0) loss.Add(Held(GradAccumulation - 1));
            if (HeldLogitsBytes > 0) { backward.Add(Held(GradAccumulation)); optimizer.Add(Held(GradAccumulation)); }
            if (ComputeGradientBytes > 0)
            {
                if (accumulating) { loss.Add(bf16Gradients); backward.Add(bf16Gradients); }
                else backward.Add(new("head gradient", HeadGradientBytes, "2 B x V x d"));
                optimizer.Insert(0, bf16Gradients);
                evaluation.Add(bf16Gradients);
            }
            optimizer.Add(new("update", OptimizerUpdateBytes, OptimizerUpdateFormula));
            evaluation.Add(new("evaluation logits", EvaluationLossBytes, EvaluationLossFormula));
            return [new("loss", loss), new("backward", backward), new("optimizer step", optimizer), new("evaluation", evaluation)];
        }
    }

    /// <summary>The phase that decides the peak.</summary>
    public MemoryPhase PeakPhase => Phases.MaxBy(p => p.Bytes)!;

    /// <summary>The persistent terms plus the largest phase.</summary>
    public long PeakBytes => Persistent.Sum(t => t.Bytes) + PeakPhase.Bytes;

    /// <summary><see cref="PeakBytes"/> in MB (2^20 bytes), the unit of the run's peak_rss_mb.</summary>
    public double PeakMb => PeakBytes / (double)(1 << 20);

    string OptimizerName => Optimizer switch
    {
        OptimizerKind.AdEMAMix => "AdEMAMix state",
        OptimizerKind.Muon => "Muon state",
        _ => "AdamW state",
    };

    /// <summary>One line: the persistent terms, the peak phase's and the other phases' totals, in MB.</summary>
    public string Summary()
    {
        var phases = Phases;
        var peak = phases.MaxBy(p => p.Bytes)!;
        var persistent = string.Join(" + ", Persistent.Select(t => $"{t.Name} {Mb(t.Bytes)}"));
        var inside = string.Join(" + ", peak.Terms.Select(t => $"{t.Name} {Mb(t.Bytes)}"));
        var others = string.Join("; ", phases.Where(p => p.Name != peak.Name).Select(p => $"{p.Name} {Mb(p.Bytes)}"));
        return $"planned {Mb(PeakBytes)} MB = {persistent} + {peak.Name} {Mb(peak.Bytes)} ({inside}); other phases: {others}";
    }

    /// <summary>Every term with its formula, each phase with its sum, and the peak: the plan's arithmetic.</summary>
    public string ToTable()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"Memory plan: micro-batch {MicroBatch} x context {ContextLength} x accumulation {GradAccumulation}, {Describe(Dtype)}, {Optimizer}" +
                      $"{(RecomputeActivations ? ", activations recomputed" : "")}; {Count(Parameters)} parameters" +
                      $"{(TrainableParameters == Parameters ? "" : $", {Count(TrainableParameters)} trained")}; MB = 2^20 bytes");
        foreach (var t in Persistent) sb.AppendLine($"  {t.Name,-22}{Mb(t.Bytes),10} MB   {t.Formula}");
        sb.AppendLine($"  {"= persistent",-22}{Mb(Persistent.Sum(t => t.Bytes)),10} MB");
        sb.AppendLine("  + the largest phase of a step:");
        var phases = Phases;
        var peak = phases.MaxBy(p => p.Bytes)!;
        var explained = new HashSet<string>();
        foreach (var p in phases)
        {
            sb.AppendLine($"    {p.Name,-20}{Mb(p.Bytes),10} MB = {string.Join(" + ", p.Terms.Select(t => $"{t.Name} {Mb(t.Bytes)}"))}{(p.Name == peak.Name ? "   <- peak" : "")}");
            foreach (var t in p.Terms.Where(t => t.Formula != "" && explained.Add(t.Name + t.Formula))) sb.AppendLine($"{"",38}{t.Name}: {t.Formula}");
        }
        sb.AppendLine($"  {"= planned peak",-22}{Mb(PeakBytes),10} MB ({PeakBytes / (double)(1L << 30):F2} GB)");
        return sb.ToString();
    }

    /// <summary>What a run's result reports of this plan (<see cref="RunResult.PlannedMemory"/>).</summary>
    public PlannedMemory Planned() => new(PeakMb, Cuda, RuntimeBytes / (double)(1 << 20), Summary());

    public override string ToString() => Summary();

    /// <summary>tokens x (bytes per token of each kind of block + the final norm + the embedding's), in words.</summary>
    static string DescribeActivations(ModelConfig m, TrainingConfig t, ActivationMemory a)
    {
        string blocks = a.Recompute
            ? $"{m.NLayer} block inputs x {Count(ActivationMemory.ElementBytes(t.Dtype) * m.DModel)} B"
            : string.Join(" + ", Enumerable.Range(0, m.NLayer).Select(i => ActivationMemory.LayerBytesPerToken(m, i, t.ContextLength, t.Dtype))
                .GroupBy(b => b).Select(g => $"{g.Count()} blocks x {Count(g.Key)} B"));
        long masks = a.Recompute ? 0 : a.Layers.Sum() - a.Tokens * Enumerable.Range(0, m.NLayer).Sum(i => ActivationMemory.LayerBytesPerToken(m, i, t.ContextLength, t.Dtype));
        return $"{Count(a.Tokens)} tokens x ({blocks} + final norm {Count(a.FinalNorm / a.Tokens)} B + embedding {Count(a.Embedding / a.Tokens)} B)" +
               (masks > 0 ? $" + causal masks {Count(masks)} B" : "");
    }

    static string Describe(TrainingDtype dtype) => dtype == TrainingDtype.Bf16 ? "bf16 compute with fp32 master weights" : "fp32";

    internal static string Mb(long bytes) => (bytes / (double)(1 << 20)).ToString("N0", CultureInfo.InvariantCulture);

    internal static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
}

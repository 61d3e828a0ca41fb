using System.Text.Json.Nodes;
using LMHarness.Analysis;
using LMHarness.Config;
using LMHarness.Generation;
using LMHarness.Interop;
using LMHarness.Model;
using LMHarness.Runs;
using LMHarness.Tests.Generation;
using LMHarness.Tests.Training;
using LMHarness.Tokenizers;
using LMHarness.Training;
using LMHarness.Training.Checkpoints;
using LMHarness.Training.Logging;
using LMHarness.Training.Optimizers;
using static TorchSharp.torch;

namespace LMHarness.Tests.Memory;

/// <summary>
/// No tensor outlives its work: for every path that makes tensors (training steps in each precision, optimizer,
/// accumulation, clipping, grad flow and recomputation setting; evaluation; checkpoint save and restore; generation with
/// and without the KV cache, batched; perplexity; PCA trajectories; export and import), the live-tensor count of the
/// thread after the last of N calls equals the count after the second (<see cref="LiveTensors"/>). The first two tests
/// are the negative controls: the same check fails on a leak planted in the trainer's path, and on a tensor left to the
/// garbage collector even when a collection runs.
/// </summary>
[Collection(nameof(GlobalTorchState))]
public class LiveTensorTests
{
    static readonly ITokenizer Bytes = new ByteTokenizer();

    /// <summary>Records the live count at every logged row of a run (log steps, evaluations, checkpoints).</summary>
    sealed class CountAtRows : IRunLogger
    {
        public List<long> Counts { get; } = [];
        public void OnMetrics(MetricsRow row) => Counts.Add(LiveTensors.Count);
    }

    /// <summary>A batch source that plants a leak: one tensor per training batch, detached from every scope, never disposed.</summary>
    sealed class LeakingBatches(IBatchSource inner) : IBatchSource
    {
        public (Tensor X, Tensor Y) NextTrain()
        {
            ones(1).DetachFromDisposeScope();
            return inner.NextTrain();
        }
        public IEnumerable<(Tensor X, Tensor Y)> TrainSample(int batches) => inner.TrainSample(batches);
        public IEnumerable<(Tensor X, Tensor Y)> Validation(int batches) => inner.Validation(batches);
        public JsonNode SaveState() => inner.SaveState();
        public void LoadState(JsonNode state) => inner.LoadState(state);
        public JsonObject Describe() => inner.Describe();
        public JsonNode? Tokenizer => inner.Tokenizer;
    }

    /// <summary>Trains 16 steps (evaluating every 4, checkpointing every 3, logging every 2) and returns the count at each row.</summary>
    static long[] TrainCounts(ModelConfig model, TrainingConfig training, Func<IBatchSource, IBatchSource>? plant = null, bool everyStep = false)
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        using var data = TokenFileBatches.Open(tokens, training);
        var source = plant is null ? data : plant(data);
        var trainer = new Trainer(model, training, source, dir.File("run"), c => new CausalLM(c)) { Progress = null };
        var rows = new CountAtRows();
        trainer.Loggers.Add(rows);
        if (everyStep) trainer.StepCompleted += _ => { };
        trainer.Train();
        return rows.Counts.ToArray();
    }

    static TrainingConfig Training(TrainingDtype dtype, OptimizerKind optimizer, int accumulation, double clip, int gradFlow) =>
        TrainingFixtures.TinyTraining with
        {
            Dtype = dtype, Optimizer = optimizer, GradAccumulation = accumulation, GradClip = clip, GradFlowInterval = gradFlow,
            MaxSteps = 16, WarmupSteps = 2, EvalInterval = 4, EvalBatches = 2, LogInterval = 2, CheckpointInterval = 3,
        };

    [Fact]
    public void The_count_catches_a_leak_planted_in_the_training_path()
    {
        var counts = TrainCounts(TrainingFixtures.TinyModel, Training(TrainingDtype.Fp32, OptimizerKind.AdamW, 2, 1.0, 0), b => new LeakingBatches(b));
        // 2 micro-batches a step, one planted tensor each: from the row of step 2 to that of step 16, 28 more.
        (counts[^1] - counts[1]).Should().Be(2 * (16 - 2), "the planted tensors are counted ({0})", string.Join(", ", counts));
        var act = () => counts.ShouldStayFlat("the planted path");
        act.Should().Throw<Exception>();
    }

    [Fact]
    public void The_count_catches_a_tensor_left_to_the_garbage_collector_even_when_it_runs()
    {
        var counts = LiveTensors.After(4, _ =>
        {
            using (NewDisposeScope()) { } // a scope, but the tensor below is made after it closed
            ones(1000);
            GC.Collect();
            GC.WaitForPendingFinalizers();
        });
        (counts[^1] - counts[1]).Should().Be(2, "a finalizer frees the tensor on its own thread, not here: it is still the caller's leak");
    }

    public static IEnumerable<object[]> TrainingPaths() =>
    [
        [TrainingDtype.Fp32, OptimizerKind.AdamW, 2, 1.0, 1, false, false],   // accumulation, clipping, grad flow every step
        [TrainingDtype.Fp32, OptimizerKind.AdamW, 1, 0.0, 0, false, true],    // no clipping, no grad flow, a read every step
        [TrainingDtype.Bf16, OptimizerKind.AdamW, 2, 1.0, 5, false, false],
        [TrainingDtype.Fp32, OptimizerKind.Muon, 1, 1.0, 5, true, false],     // activation recomputation
        [TrainingDtype.Bf16, OptimizerKind.Muon, 2, 1.0, 0, true, false],
        [TrainingDtype.Fp32, OptimizerKind.AdEMAMix, 2, 1.0, 5, false, false],
        [TrainingDtype.Bf16, OptimizerKind.AdEMAMix, 1, 1.0, 1, true, false],
    ];

    [Theory]
    [MemberData(nameof(TrainingPaths))]
    public void Training_steps_evaluations_and_checkpoints_leave_no_live_tensor(TrainingDtype dtype, OptimizerKind optimizer, int accumulation,
        double clip, int gradFlow, bool recompute, bool everyStep)
    {
        var model = TrainingFixtures.TinyModel with { RecomputeActivations = recompute };
        var counts = TrainCounts(model, Training(dtype, optimizer, accumulation, clip, gradFlow), everyStep: everyStep);
        counts.Length.Should().BeGreaterThan(8);
        counts.ShouldStayFlat($"training ({dtype}, {optimizer}, accumulation {accumulation}, clip {clip}, grad flow {gradFlow}, recompute {recompute})");
        ActivationRecompute.PendingBackwardTensors.Should().Be(0);
    }

    [Theory]
    [InlineData(TrainingDtype.Fp32, false, FusedLossMode.Auto)]
    [InlineData(TrainingDtype.Bf16, true, FusedLossMode.Auto)] // recomputation re-enters autograd below frozen blocks
    [InlineData(TrainingDtype.Bf16, false, FusedLossMode.On)]  // the fused loss's backward with a frozen (tied) head: dh alone
    public void Training_with_frozen_parameters_leaves_no_live_tensor(TrainingDtype dtype, bool recompute, FusedLossMode fused)
    {
        var model = TrainingFixtures.TinyModel with { NLayer = 2, RecomputeActivations = recompute };
        var training = Training(dtype, OptimizerKind.AdamW, 2, 1.0, 5) with { Freeze = ["model.embed_tokens", "model.layers.0"], FusedLoss = fused };
        var counts = TrainCounts(model, training);
        counts.Length.Should().BeGreaterThan(8);
        counts.ShouldStayFlat($"training with model.embed_tokens and model.layers.0 frozen ({dtype}, recompute {recompute}, fused loss {fused})");
        ActivationRecompute.PendingBackwardTensors.Should().Be(0);
    }

    [Theory]
    [InlineData(OptimizerKind.AdamW)]
    [InlineData(OptimizerKind.Muon)]
    [InlineData(OptimizerKind.AdEMAMix)]
    public void Restoring_a_checkpoint_leaves_no_live_tensor(OptimizerKind kind)
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var training = Training(TrainingDtype.Fp32, kind, 1, 1.0, 0) with { MaxSteps = 3 };
        new Trainer(TrainingFixtures.TinyModel, training, TokenFileBatches.Open(tokens, training), dir.File("run"), c => new CausalLM(c)) { Progress = null }.Train();
        var checkpoint = new RunFolder(dir.File("run")).LatestCheckpoint!;
        using var model = new CausalLM(TrainingFixtures.TinyModel);
        using var optimizer = OptimizerFactory.Create(model, training);
        LiveTensors.After(5, _ => Checkpoint.Load(checkpoint, model, optimizer)).ShouldStayFlat($"restoring a {kind} checkpoint");
    }

    [Fact]
    public void Evaluation_leaves_no_live_tensor()
    {
        using var dir = new TempDir();
        var training = Training(TrainingDtype.Fp32, OptimizerKind.AdamW, 1, 1.0, 0);
        using var data = TokenFileBatches.Open(TrainingFixtures.TokenFile(dir.Path), training);
        using var model = new CausalLM(TrainingFixtures.TinyModel);
        var evaluator = new Evaluator(data, training, CPU);
        LiveTensors.After(5, _ => evaluator.Run(model)).ShouldStayFlat("evaluation");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Generation_with_and_without_the_cache_single_and_batched_leaves_no_live_tensor(bool useCache)
    {
        using var model = TinyModels.Build(TinyModels.Llama, 3);
        var generator = new LMHarness.Generation.Generator(model, Bytes);
        var options = new SamplingOptions { MaxNewTokens = 6, Seed = 5, TopK = 20, TopP = 0.9, MinP = 0.01, RepetitionPenalty = 1.1 };
        LiveTensors.After(5, _ => generator.Generate(["To be", "or not to be"], options, useCache, null)).ShouldStayFlat($"batched generation (cache {useCache})");
        LiveTensors.After(5, _ => generator.Generate(["Hi"], options with { Temperature = 0 }, useCache, null)).ShouldStayFlat($"greedy generation (cache {useCache})");
    }

    [Fact]
    public void Perplexity_and_per_token_losses_leave_no_live_tensor()
    {
        using var model = TinyModels.Build(TinyModels.Gpt2, 4);
        const string text = "To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer.";
        LiveTensors.After(5, _ => Perplexity.OfText(model, Bytes, text, batch: 2)).ShouldStayFlat("perplexity");
        LiveTensors.After(5, _ => Perplexity.PerToken(model, Bytes, "To be, or not")).ShouldStayFlat("per-token losses");
    }

    [Fact]
    public void Pca_trajectories_leave_no_live_tensor()
    {
        using var model = TinyModels.Build(TinyModels.Llama, 5);
        var prompt = Bytes.Encode("The quick brown fox");
        var continuation = Bytes.Encode(" jumps over");
        LiveTensors.After(5, _ => Trajectory.Compute(model, Bytes, prompt, continuation)).ShouldStayFlat("PCA trajectories");
    }

    [Fact]
    public void Export_and_import_leave_no_live_tensor()
    {
        using var dir = new TempDir();
        using var model = TinyModels.Build(TinyModels.Llama with { TieEmbeddings = false }, 6);
        LiveTensors.After(4, i =>
        {
            var hf = dir.File($"hf{i}");
            HfModel.Export(model, hf, TokenizerIdentity.Bytes, ScalarType.BFloat16);
            using (var imported = HfModel.Import(hf)) { }
            var native = dir.File($"native{i}");
            HarnessExport.Save(model, native, TokenizerIdentity.Bytes);
            using (var loaded = ModelSource.Load(native).Model) { }
        }).ShouldStayFlat("export and import (HF and harness)");
    }
}

/// <summary>
/// The loops that run once per parameter tensor each step (moving bf16 gradients to the master, clipping, the optimizer
/// update) leave no native object to the finalizer. TorchSharp converts every double it is handed to a native Scalar
/// and frees it only in a finalizer (its own AdamW step left ~8 per parameter tensor per step): with a 50k vocabulary
/// those blocks pinned the C heap between the step's large buffers, and RSS grew ~20 MB a step until a collection ran.
/// </summary>
[Collection(nameof(GlobalTorchState))]
public class FinalizerFreeStepTests
{
    static PrecisionPolicy Policy(TrainingDtype dtype)
    {
        manual_seed(3);
        var policy = PrecisionPolicy.Create(dtype, () => new CausalLM(TrainingFixtures.TinyModel with { NLayer = 3 }), CPU);
        using var scope = NewDisposeScope();
        using var idx = randint(32, [2, 8], dtype: ScalarType.Int64);
        LanguageModelLoss.Mean(policy.Compute.forward(idx), idx).backward();
        return policy;
    }

    [Fact]
    public void The_count_sees_the_scalars_torchsharps_own_adamw_leaves()
    {
        using var listener = new FinalizedObjects();
        using var policy = Policy(TrainingDtype.Fp32);
        using var adamw = TorchSharp.torch.optim.AdamW(policy.Master.parameters());
        listener.Flush();
        var before = listener.Of(typeof(TorchSharp.Scalar));
        for (var i = 0; i < 3; i++) adamw.step();
        listener.Flush();
        var tensors = policy.MasterParameters.Count;
        (listener.Of(typeof(TorchSharp.Scalar)) - before).Should().BeGreaterThanOrEqualTo(3 * 5 * tensors, "each step converts several coefficients per parameter tensor");
    }

    [Theory]
    [InlineData(TrainingDtype.Fp32, OptimizerKind.AdamW)]
    [InlineData(TrainingDtype.Bf16, OptimizerKind.AdamW)]
    [InlineData(TrainingDtype.Fp32, OptimizerKind.Muon)]
    [InlineData(TrainingDtype.Bf16, OptimizerKind.AdEMAMix)]
    public void Master_gradients_clipping_the_update_and_zeroing_leave_nothing_to_the_finalizer(TrainingDtype dtype, OptimizerKind kind)
    {
        using var listener = new FinalizedObjects();
        using var policy = Policy(dtype);
        using var optimizer = OptimizerFactory.Create(policy.Master, new TrainingConfig { Optimizer = kind, WeightDecay = 0.1 });
        listener.Flush();
        var before = listener.Of(typeof(TorchSharp.Scalar));
        var live = LiveTensors.Count;
        for (var i = 0; i < 3; i++)
        {
            using var scope = NewDisposeScope();
            policy.MoveGradientsToMaster();
            GradientClipping.ClipByGlobalNorm(policy.MasterParameters.Select(p => p.Param), 0.5);
            optimizer.Step(0.5);
            policy.SyncCompute();
            optimizer.ZeroGrad();
            policy.ZeroComputeGrads();
        }
        listener.Flush();
        (listener.Of(typeof(TorchSharp.Scalar)) - before).Should().Be(0, "every coefficient is a Scalar the step disposes");
        LiveTensors.Count.Should().Be(live);
    }
}

/// <summary>
/// A whole training step (forward, loss on either path, backward, clipping, update) and a generation leave no native
/// Scalar to the finalizer, for every block kind: TorchSharp makes one for each number an operator is given and for
/// the implicit alpha 1 of <c>a + b</c>. A handful a step was enough to pin the C heap between the fused loss's tiles
/// (RSS +15 % over 300 steps with the collector off).
/// </summary>
[Collection(nameof(GlobalTorchState))]
public class FinalizerFreeModelTests
{
    /// <summary>Every speedrun option on GQA + RoPE, every attention and position kind once, GPT-2's blocks (LayerNorm, GELU MLP,
    /// biases), and μP away from its base width (its readout and query multipliers are Scalars too).</summary>
    public static IEnumerable<object[]> Cases() =>
        Model.Tiny.Options.Select(o => new object[] { o, AttentionKind.Gqa, PositionKind.Rope, 2 })
            .Concat(new[] { (AttentionKind.Raw, PositionKind.Learned, 2), (AttentionKind.Differential, PositionKind.None, 2),
                            (AttentionKind.Mha, PositionKind.Rope, 2), (AttentionKind.Gqa, PositionKind.Learned, 1) }
                .Select(c => new object[] { Model.Tiny.NoOption, c.Item1, c.Item2, c.Item3 }))
            .Append(["gpt2", AttentionKind.Mha, PositionKind.Learned, 4])
            .Append(["mup", AttentionKind.Mha, PositionKind.Rope, 4]);

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_training_step_and_generation_leave_no_scalar_to_the_finalizer(string option, AttentionKind attention, PositionKind position, int nKvHead)
    {
        var config = option switch
        {
            "gpt2" => TinyModels.Gpt2,
            "mup" => Model.Tiny.Case(Model.Tiny.NoOption, attention, position, nKvHead) with { Parametrization = Parametrization.Mup, MupBaseWidth = 16 },
            _ => Model.Tiny.Case(option, attention, position, nKvHead),
        } with { Dropout = 0.1, VocabSize = 256 };
        using var listener = new FinalizedObjects();
        manual_seed(7);
        using var model = new CausalLM(config);
        model.train();
        using var optimizer = OptimizerFactory.Create(model, new TrainingConfig { Optimizer = OptimizerKind.AdamW });
        using var idx = Model.Tiny.Tokens(config, 2, 12);
        void Step(FusedLossMode mode)
        {
            using var scope = NewDisposeScope();
            optimizer.ZeroGrad();
            NextTokenLoss.Mean(model, idx, idx, mode).backward();
            HandedGradients.Release();
            GradientClipping.ClipByGlobalNorm(model.parameters(), 1.0);
            optimizer.Step(1.0);
        }
        var generator = new LMHarness.Generation.Generator(model, new ByteTokenizer());
        void Generate()
        {
            var options = new SamplingOptions { MaxNewTokens = 3, Seed = 1, TopK = 20, TopP = 0.9, MinP = 0.01, RepetitionPenalty = 1.1 };
            generator.Generate(["ab", "abc"], options, true, null);
            generator.Generate(["ab"], options with { Temperature = 0 }, false, null);
        }
        Step(FusedLossMode.Off); // first calls build caches (rotary tables) and optimizer state
        Generate();
        int Count(Action action)
        {
            listener.Flush();
            var before = listener.Of(typeof(TorchSharp.Scalar));
            action();
            listener.Flush();
            return listener.Of(typeof(TorchSharp.Scalar)) - before;
        }
        var counts = (Logits: Count(() => Step(FusedLossMode.Off)), Fused: Count(() => Step(FusedLossMode.On)), Generation: Count(Generate));
        counts.Should().Be((0, 0, 0), "every number an operator takes is a Scalar the code owns or disposes ({0})", config.ToJson());
    }
}

using LMHarness.Analysis;
using LMHarness.Config;
using LMHarness.Generation;
using LMHarness.Model;
using LMHarness.Tokenizers;
using LMHarness.Training;
using LMHarness.Training.Optimizers;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Tests.Gpu;

/// <summary>
/// A CPU-only guard against device-placement bugs, the kind that only show on a GPU ("expected all tensors to be on
/// the same device"). The model and its inputs are built explicitly on the CPU, then torch's default device is set to
/// META (shapes without storage) around training, clipping, the optimizer, evaluation and cached/padded generation:
/// a tensor factory call that forgot <c>device:</c> now makes a META tensor, and the first op mixing it with a CPU
/// tensor fails exactly as a CPU tensor would fail against a CUDA model. The default device is global, hence the
/// non-parallel collection and the reset in finally.
/// </summary>
[Collection(nameof(GlobalTorchState))]
public class DevicePlacementTests
{
    static readonly ITokenizer Bytes = new ByteTokenizer();

    /// <summary>Runs <paramref name="body"/> with META as torch's default device.</summary>
    internal static void WithMetaDefault(Action body)
    {
        set_default_device(META);
        try { body(); }
        finally { set_default_device(CPU); }
    }

    static ModelConfig Config(AttentionKind attention, PositionKind position, int nKvHead) => new ModelConfig
    {
        VocabSize = 256, ContextLength = 32, NLayer = 2, DModel = 32, NHead = 4,
        NKvHead = attention == AttentionKind.Gqa ? nKvHead : 4, FfnHidden = 48,
        AttentionKinds = [attention], FeedForwardKinds = [FeedForwardKind.SwiGlu], Position = position,
        Norm = NormKind.RmsNorm, Dropout = 0.1, RecomputeActivations = true, TieEmbeddings = true,
        Yarn = position == PositionKind.Rope ? new YarnScaling(2, 16) : null,
    }.Validated();

    [Fact]
    public void The_guard_catches_a_factory_call_without_a_device()
    {
        using var onCpu = ones(3, device: CPU);
        var act = () => WithMetaDefault(() => { using var sum = onCpu + ones(3); });
        act.Should().Throw<Exception>().WithMessage("*meta*cpu*");
        using var fine = onCpu + ones(3); // and the default is back to the CPU afterwards
        fine.device_type.Should().Be(DeviceType.CPU);
    }

    [Theory]
    [MemberData(nameof(Model.Tiny.AttentionByPosition), MemberType = typeof(Model.Tiny))]
    public void Train_step_evaluation_and_generation_create_every_tensor_on_the_models_device(AttentionKind attention, PositionKind position, int nKvHead)
    {
        var config = Config(attention, position, nKvHead);
        manual_seed(1);
        using var model = new CausalLM(config);
        using var optimizer = OptimizerFactory.Create(model, new TrainingConfig { Optimizer = OptimizerKind.AdamW });
        using var idx = randint(256, [2, 12], dtype: ScalarType.Int64, device: CPU);
        var generator = new LMHarness.Generation.Generator(model, Bytes);

        WithMetaDefault(() =>
        {
            TrainStep(model, optimizer, idx);
            model.eval();
            using (no_grad())
                Perplexity.OfText(model, Bytes, "To be, or not to be, that is the question.", batch: 2).Perplexity.Should().BeGreaterThan(1);
            var options = new SamplingOptions { MaxNewTokens = 4, Seed = 3, TopK = 20, TopP = 0.9, RepetitionPenalty = 1.1 };
            foreach (var useCache in new[] { true, false }) // padded batch: prompts of different lengths
                generator.Generate(["Hi", "Hello there"], options, useCache, null).Should().HaveCount(2);
        });
    }

    [Theory]
    [InlineData(OptimizerKind.AdamW)]
    [InlineData(OptimizerKind.Muon)]
    [InlineData(OptimizerKind.AdEMAMix)]
    public void Every_optimizer_keeps_its_state_on_the_parameters_device(OptimizerKind kind)
    {
        var config = Config(AttentionKind.Gqa, PositionKind.Rope, 2);
        manual_seed(2);
        using var model = new CausalLM(config);
        using var optimizer = OptimizerFactory.Create(model, new TrainingConfig { Optimizer = kind });
        using var idx = randint(256, [2, 12], dtype: ScalarType.Int64, device: CPU);
        WithMetaDefault(() =>
        {
            TrainStep(model, optimizer, idx);
            TrainStep(model, optimizer, idx);
        });
    }

    /// <summary>The trainer's own parts: bf16 precision policy (fp32 master + bf16 compute copy), TrainStep with gradient
    /// accumulation and grad-flow statistics, and the Evaluator, on token-file batches, through the logits or the fused loss.</summary>
    [Theory]
    [InlineData(TrainingDtype.Fp32, FusedLossMode.Off)]
    [InlineData(TrainingDtype.Bf16, FusedLossMode.Off)]
    [InlineData(TrainingDtype.Fp32, FusedLossMode.On)]
    [InlineData(TrainingDtype.Bf16, FusedLossMode.On)]
    public void The_trainers_step_and_evaluator_create_every_tensor_on_the_models_device(TrainingDtype dtype, FusedLossMode fusedLoss)
    {
        using var dir = new TempDir();
        var training = Training.TrainingFixtures.TinyTraining with { Dtype = dtype, FusedLoss = fusedLoss };
        var model = Training.TrainingFixtures.TinyModel with { RecomputeActivations = true };
        using var data = TokenFileBatches.Open(Training.TrainingFixtures.TokenFile(dir.Path), training);
        manual_seed(4);
        using var precision = PrecisionPolicy.Create(dtype, () => new CausalLM(model), CPU);
        using var optimizer = OptimizerFactory.Create(precision.Master, training);
        var step = new TrainStep(precision, optimizer, data, training, CPU);
        var evaluator = new Evaluator(data, training, CPU);
        WithMetaDefault(() =>
        {
            for (var i = 1; i <= 2; i++)
            {
                var (loss, norm) = step.Run(1.0, i, rows => rows.Should().NotBeEmpty());
                using (loss) using (norm) loss.device_type.Should().Be(DeviceType.CPU);
            }
            evaluator.Run(precision.Compute).ValLoss.Should().BeGreaterThan(0);
        });
    }

    static void TrainStep(CausalLM model, IOptimizer optimizer, Tensor idx)
    {
        using var scope = NewDisposeScope();
        model.train();
        optimizer.ZeroGrad();
        var loss = model.Loss(idx, idx);
        loss.backward();
        ActivationRecompute.ReleaseBackwardTensors();
        var norm = GradientClipping.ClipByGlobalNorm(model.parameters(), 0.5);
        norm.device_type.Should().Be(DeviceType.CPU, "the norm stays on the parameters' device until a log step reads it");
        float.IsFinite(norm.item<float>()).Should().BeTrue();
        optimizer.Step(1.0);
        loss.device_type.Should().Be(DeviceType.CPU);
    }
}

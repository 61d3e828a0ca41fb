using LMHarness.Config;
using LMHarness.Interop;
using LMHarness.Model;
using LMHarness.Runs;
using LMHarness.Tests.Memory;
using LMHarness.Tests.Training;
using LMHarness.Training;
using LMHarness.Training.Checkpoints;
using LMHarness.Training.Optimizers;

namespace LMHarness.Tests.Interop;

/// <summary>
/// training.init_optimizer: a run from a harness checkpoint starts its optimizer from the checkpoint's state (the
/// moments, bit for bit) with its own hyperparameters, resumes bitwise, and is refused where the state cannot fit
/// (a source without optimizer state, another optimizer, another freeze, other learning-rate groups).
/// </summary>
[Collection(nameof(GlobalTorchState))] // training seeds torch's generator and sets its thread count
public sealed class InitOptimizerTests
{
    static TrainingConfig Continue => TrainingFixtures.TinyTraining with { MaxSteps = 6, WarmupSteps = 1, EvalInterval = 3, CheckpointInterval = 3 };

    /// <summary>Trains the tiny model 4 steps with <paramref name="optimizer"/> into <c>source/</c> and returns its step-4 checkpoint.</summary>
    static string TrainSource(TempDir dir, string tokens, OptimizerKind optimizer = OptimizerKind.AdamW)
    {
        var path = dir.File($"source-{optimizer}");
        var t = TrainingFixtures.TinyTraining with { MaxSteps = 4, WarmupSteps = 1, EvalInterval = 4, CheckpointInterval = 2, Optimizer = optimizer };
        var trainer = Trainer.For(TrainingFixtures.TinyModel, t, tokens, path);
        trainer.Progress = null;
        trainer.Train();
        return Path.Combine(path, "checkpoints", RunFolder.CheckpointFileName(4));
    }

    static RunResult TrainFrom(string source, string tokens, string runDir, TrainingConfig training, Action<Trainer>? setup = null)
    {
        var (model, pinned, stream, _) = InitSource.Plan(TrainingFixtures.TinyModel, [], training with { InitFrom = source }, tokens);
        var trainer = Trainer.For(model, pinned, tokens, runDir, stream);
        trainer.Progress = null;
        setup?.Invoke(trainer);
        return trainer.Train();
    }

    static byte[] StateBytes(IOptimizer optimizer)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) optimizer.Save(writer);
        return stream.ToArray();
    }

    [Theory]
    [InlineData(OptimizerKind.AdamW)]
    [InlineData(OptimizerKind.AdEMAMix)]
    [InlineData(OptimizerKind.Muon)]
    public void The_optimizer_starts_from_the_checkpoints_state_bit_for_bit(OptimizerKind kind)
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var checkpoint = TrainSource(dir, tokens, kind);
        var training = Continue with { Optimizer = kind };

        // What a resume of the source restores, against what init_optimizer loads into a new run's optimizer.
        using var restored = new CausalLM(TrainingFixtures.TinyModel);
        using var restoredOptimizer = OptimizerFactory.Create(restored, training);
        Checkpoint.Load(checkpoint, restored, restoredOptimizer);
        using var fresh = new CausalLM(TrainingFixtures.TinyModel);
        using var freshOptimizer = OptimizerFactory.Create(fresh, training);
        var cold = StateBytes(freshOptimizer);
        Checkpoint.LoadOptimizer(checkpoint, freshOptimizer);
        StateBytes(freshOptimizer).Should().Equal(StateBytes(restoredOptimizer), $"{kind}: the state is the checkpoint's");
        StateBytes(freshOptimizer).Should().NotEqual(cold, "the checkpoint's moments are not zeros");
        LiveTensors.After(4, _ => Checkpoint.LoadOptimizer(checkpoint, freshOptimizer)).ShouldStayFlat($"loading a {kind} state into a new run's optimizer");
    }

    [Fact]
    public void A_run_with_init_optimizer_trains_from_the_sources_moments_with_its_own_hyperparameters_and_resumes_bitwise()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var checkpoint = TrainSource(dir, tokens);
        TrainFrom(checkpoint, tokens, dir.File("cold"), Continue);
        TrainFrom(checkpoint, tokens, dir.File("warm"), Continue with { InitOptimizer = true });
        TrainFrom(checkpoint, tokens, dir.File("warm-wd"), Continue with { InitOptimizer = true, WeightDecay = 0.5 });
        List<double> Losses(string run) => MetricsRow.Read(dir.File($"{run}/metrics.csv")).Select(r => r.TrainLoss).ToList();

        // Step 1 sees the same weights and batch; from step 2 on the moments differ.
        Losses("warm")[1].Should().Be(Losses("cold")[1]);
        Losses("warm").Skip(2).Should().NotEqual(Losses("cold").Skip(2), "Adam's moments from the source change the updates");
        // The weight decay is this run's (0.5), not the state's (0.1, which TorchSharp's state carries with the moments).
        Losses("warm-wd").Skip(2).Should().NotEqual(Losses("warm").Skip(2));

        // config.json and the identity record it; a run without it writes no such field.
        File.ReadAllText(dir.File("warm/config.json")).Should().Contain("\"init_optimizer\": true");
        File.ReadAllText(dir.File("cold/config.json")).Should().NotContain("init_optimizer");

        // Stopped at step 3 and resumed: its own checkpoint's state, not the source's again.
        TrainFrom(checkpoint, tokens, dir.File("split"), Continue with { InitOptimizer = true }, t => t.StepCompleted += r => { if (r.Step == 3) t.RequestStop(); })
            .Steps.Should().Be(3);
        Trainer.Resume(dir.File("split")).Steps.Should().Be(Continue.MaxSteps);
        Losses("split").Should().Equal(Losses("warm"));
    }

    [Fact]
    public void A_source_whose_state_cannot_fit_is_refused_naming_what_differs()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var checkpoint = TrainSource(dir, tokens);
        var warm = Continue with { InitOptimizer = true, InitFrom = checkpoint };
        Action Plan(TrainingConfig t) => () => InitSource.Plan(TrainingFixtures.TinyModel, [], t, tokens);

        Plan(warm with { Optimizer = OptimizerKind.Muon, Freeze = ["model.embed_tokens"], EmbeddingLearningRate = 1e-2 }).Should().Throw<ArgumentException>()
            .WithMessage("init_optimizer: the optimizer state in *step_0000004.ckpt does not fit this run: optimizer Muon (the source's is AdamW); " +
                         "freeze [model.embed_tokens] (the source's is []); learning rates per group*not in the source's ratios*");
        // Scaling every rate together keeps the groups.
        Plan(warm with { LearningRate = Continue.LearningRate / 10 }).Should().NotThrow();

        // An export has weights only.
        var loaded = ModelSource.Load(checkpoint);
        HarnessExport.Save(loaded.Model, dir.File("export"), loaded.Tokenizer);
        loaded.Model.Dispose();
        Plan(warm with { InitFrom = dir.File("export") }).Should().Throw<ArgumentException>().WithMessage("init_optimizer: harness export * holds no optimizer state*");

        // Without init_from, and through a trainer not built from the source, nothing starts.
        FluentActions.Invoking(() => (Continue with { InitOptimizer = true }).Validated()).Should().Throw<ArgumentException>().WithMessage("*init_optimizer needs init_from*");
        var (model, pinned, _, _) = InitSource.Plan(TrainingFixtures.TinyModel, [], warm, tokens);
        var trainer = Trainer.For(model, pinned, tokens, dir.File("no-stream"), new WeightsOnly(InitSource.Open(checkpoint).Stream()));
        trainer.Progress = null;
        FluentActions.Invoking(() => trainer.Train()).Should().Throw<ArgumentException>().WithMessage("*no checkpoint to take optimizer state from*");
        Directory.Exists(dir.File("no-stream")).Should().BeFalse("a refused run leaves no folder");
    }

    /// <summary>A stream with the source's weights but no optimizer checkpoint (as a custom stream would be).</summary>
    sealed class WeightsOnly(IRunStream inner) : IRunStream
    {
        public string Name => inner.Name;
        public TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor> Build(ModelConfig model, long seed) => inner.Build(model, seed);
        public IBatchSource OpenBatches(LMHarness.Data.TokenFile file, TrainingConfig training) => inner.OpenBatches(file, training);
        public string InitFromSha256 => inner.InitFromSha256;
    }
}

using System.Text.Json.Nodes;
using LMHarness.Config;
using LMHarness.Interop;
using LMHarness.IO;
using LMHarness.Model;
using LMHarness.Runs;
using LMHarness.Tests.Training;
using LMHarness.Training;
using LMHarness.Training.Checkpoints;
using static TorchSharp.torch;

namespace LMHarness.Tests.Interop;

/// <summary>
/// training.init_from (<see cref="InitSource"/>): a run that starts from a pretrained model starts from exactly its
/// weights (its step-0 evaluation is the source's own), from a checkpoint, a run folder or an export alike; it resumes
/// bitwise; its identity follows the source's bytes, not its path; and a source that does not fit (another tokenizer,
/// damaged bytes, conflicting model knobs) is refused, naming what is wrong.
/// </summary>
[Collection(nameof(GlobalTorchState))] // training seeds torch's generator and sets its thread count
public sealed class InitFromTests
{
    /// <summary>The fine-tuning runs: 6 steps, evaluated every 3, checkpointed every 3.</summary>
    static TrainingConfig FineTune => TrainingFixtures.TinyTraining with { MaxSteps = 6, WarmupSteps = 1, EvalInterval = 3, CheckpointInterval = 3 };

    /// <summary>Trains the tiny model 4 steps from scratch into <c>source/</c> (checkpoints at steps 2 and 4) and returns its folder.</summary>
    static string TrainSource(TempDir dir, string tokens, ModelConfig? model = null)
    {
        var path = dir.File("source");
        var t = TrainingFixtures.TinyTraining with { MaxSteps = 4, WarmupSteps = 1, EvalInterval = 4, CheckpointInterval = 2 };
        var trainer = Trainer.For(model ?? TrainingFixtures.TinyModel, t, tokens, path);
        trainer.Progress = null;
        trainer.Train();
        return path;
    }

    static RunResult TrainFrom(string source, string tokens, string runDir, Action<Trainer>? setup = null)
    {
        var (model, training, stream, _) = InitSource.Plan(TrainingFixtures.TinyModel, [], FineTune with { InitFrom = source }, tokens);
        var trainer = Trainer.For(model, training, tokens, runDir, stream);
        trainer.Progress = null;
        setup?.Invoke(trainer);
        return trainer.Train();
    }

    static double FinalValLoss(string run) => MetricsRow.Read(Path.Combine(run, RunFolder.MetricsFile)).Last(r => r.ValLoss is not null).ValLoss!.Value;
    static double StepZeroValLoss(string run) => MetricsRow.Read(Path.Combine(run, RunFolder.MetricsFile)).Single(r => r.Step == 0).ValLoss!.Value;

    [Fact]
    public void The_step_0_evaluation_of_an_init_from_run_is_the_sources_own_on_the_same_batches()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var source = TrainSource(dir, tokens);
        var sourceVal = FinalValLoss(source); // evaluated at its last step, on the validation split's first windows

        TrainFrom(source, tokens, dir.File("run-folder"));
        TrainFrom(Path.Combine(source, "checkpoints", RunFolder.CheckpointFileName(4)), tokens, dir.File("ckpt"));
        StepZeroValLoss(dir.File("run-folder")).Should().Be(sourceVal, "a run folder starts from its newest checkpoint's weights");
        StepZeroValLoss(dir.File("ckpt")).Should().Be(sourceVal);

        // Negative control: from scratch, step 0 is the untrained model's loss, far from the source's.
        var scratch = Trainer.For(TrainingFixtures.TinyModel, FineTune, tokens, dir.File("scratch"));
        scratch.Progress = null;
        scratch.Train();
        StepZeroValLoss(dir.File("scratch")).Should().BeGreaterThan(sourceVal + 0.05);

        // The same logits, not only the same mean loss.
        var opened = InitSource.Open(source);
        using var fromSource = opened.Load(opened.Config);
        using var own = ModelSource.Load(source).Model;
        fromSource.eval(); own.eval();
        using var idx = arange(16, dtype: ScalarType.Int64).reshape(2, 8) % 32;
        using var a = fromSource.forward(idx);
        using var b = own.forward(idx);
        a.eq(b).all().item<bool>().Should().BeTrue("the init_from model is the source's, bit for bit");
    }

    [Fact]
    public void Export_then_init_from_the_export_round_trips_harness_and_hf_alike()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var source = TrainSource(dir, tokens);
        var loaded = ModelSource.Load(source);
        HarnessExport.Save(loaded.Model, dir.File("export"), loaded.Tokenizer);
        loaded.Model.Dispose();

        var export = InitSource.Open(dir.File("export"));
        export.Kind.Should().Be("harness export");
        export.Config.ToJson().Should().Be(TrainingFixtures.TinyModel.ToJson());
        TrainFrom(dir.File("export"), tokens, dir.File("from-export"));
        StepZeroValLoss(dir.File("from-export")).Should().Be(FinalValLoss(source));

        // An HF checkpoint of the same model (GPT-2 layout, its tokenizer identity beside it) starts there too.
        var again = ModelSource.Load(source);
        HfModel.Export(again.Model, dir.File("hf"), again.Tokenizer);
        again.Model.Dispose();
        InitSource.Open(dir.File("hf")).Kind.Should().Be("HF checkpoint");
        TrainFrom(dir.File("hf"), tokens, dir.File("from-hf"));
        StepZeroValLoss(dir.File("from-hf")).Should().Be(FinalValLoss(source));

        // And back: the fine-tuned run exported and started from again is that run's final model.
        var tuned = ModelSource.Load(dir.File("from-export"));
        HarnessExport.Save(tuned.Model, dir.File("export2"), tuned.Tokenizer);
        tuned.Model.Dispose();
        TrainFrom(dir.File("export2"), tokens, dir.File("from-export2"));
        StepZeroValLoss(dir.File("from-export2")).Should().Be(FinalValLoss(dir.File("from-export")));
    }

    [Fact]
    public void A_stopped_and_resumed_init_from_run_reproduces_the_uninterrupted_one_bitwise()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var source = TrainSource(dir, tokens);
        TrainFrom(source, tokens, dir.File("whole"));
        var first = TrainFrom(source, tokens, dir.File("split"), tr => tr.StepCompleted += r => { if (r.Step == 3) tr.RequestStop(); });
        first.Steps.Should().Be(3);
        // Resumed from its config.json alone: the weights come from its checkpoint, not from the source.
        Trainer.Resume(dir.File("split")).Steps.Should().Be(FineTune.MaxSteps);

        var a = MetricsRow.Read(Path.Combine(dir.File("whole"), RunFolder.MetricsFile));
        var b = MetricsRow.Read(Path.Combine(dir.File("split"), RunFolder.MetricsFile));
        b.Select(r => r.TrainLoss).Should().Equal(a.Select(r => r.TrainLoss));
        b.Select(r => r.ValLoss).Should().Equal(a.Select(r => r.ValLoss));
        b.Select(r => r.GradNorm).Should().Equal(a.Select(r => r.GradNorm));
        using var ma = new CausalLM(TrainingFixtures.TinyModel);
        using var mb = new CausalLM(TrainingFixtures.TinyModel);
        Checkpoint.LoadModel(Path.Combine(dir.File("whole"), "checkpoints", RunFolder.CheckpointFileName(6)), ma);
        Checkpoint.LoadModel(Path.Combine(dir.File("split"), "checkpoints", RunFolder.CheckpointFileName(6)), mb);
        foreach (var ((n, p), (_, q)) in ma.named_parameters().Zip(mb.named_parameters()))
            p.eq(q).all().item<bool>().Should().BeTrue($"{n} bitwise equal after resume");
        new RunFolder(dir.File("split")).ReadConfig().Training.InitFromSha256.Should().Be(InitSource.Open(source).Sha256, "config.json records the source's hash");
    }

    [Fact]
    public void A_token_file_of_another_tokenizer_is_refused_naming_both()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var source = TrainSource(dir, tokens);
        var other = TrainingFixtures.TokenFile(dir.Path, "0123456789ABCDEFGHIJKLMNOPQRSTUV", "other.bin");
        using var file = LMHarness.Data.TokenFile.Open(other);
        var theirs = file.Tokenizer.Describe();
        var ours = InitSource.Open(source).Tokenizer!.Describe();
        theirs.Should().NotBe(ours);

        var act = () => InitSource.Plan(TrainingFixtures.TinyModel, [], FineTune with { InitFrom = source }, other);
        act.Should().Throw<InvalidDataException>()
            .Which.Message.Should().Contain(other).And.Contain(theirs).And.Contain(ours).And.Contain("--tokenizer_from");
    }

    [Fact]
    public void A_damaged_source_is_refused_naming_the_file_and_a_run_folder_falls_back_to_its_intact_checkpoint()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var source = TrainSource(dir, tokens);
        var newest = Path.Combine(source, "checkpoints", RunFolder.CheckpointFileName(4));

        var damaged = dir.File("damaged.ckpt");
        var bytes = File.ReadAllBytes(newest);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(damaged, bytes);
        var open = () => InitSource.Open(damaged);
        open.Should().Throw<InvalidDataException>().Which.Message.Should().Contain(damaged);

        // An export's weights are checked when they are loaded, before the run trains a step.
        var loaded = ModelSource.Load(source);
        HarnessExport.Save(loaded.Model, dir.File("export"), loaded.Tokenizer);
        loaded.Model.Dispose();
        var weights = Path.Combine(dir.File("export"), HfModel.WeightsFile);
        bytes = File.ReadAllBytes(weights);
        bytes[^10] ^= 0x40;
        File.WriteAllBytes(weights, bytes);
        var train = () => TrainFrom(dir.File("export"), tokens, dir.File("from-damaged"));
        train.Should().Throw<InvalidDataException>().Which.Message.Should().Contain(weights);
        new RunFolder(dir.File("from-damaged")).HasMetrics.Should().BeFalse("nothing was trained");

        // A run folder whose newest checkpoint is damaged starts from its newest intact one, and says so.
        File.WriteAllBytes(newest, File.ReadAllBytes(damaged));
        var fallback = InitSource.Open(source);
        fallback.Path.Should().EndWith(RunFolder.CheckpointFileName(2));
        fallback.Notes.Should().ContainSingle().Which.Should().Contain(newest);
    }

    [Fact]
    public void The_run_identity_follows_the_sources_bytes_not_its_path()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var source = TrainSource(dir, tokens);
        var step4 = Path.Combine(source, "checkpoints", RunFolder.CheckpointFileName(4));
        var moved = dir.File("moved.ckpt");
        File.Copy(step4, moved);
        var data = new JsonObject { ["identity"] = "tokens", ["tokenizer"] = "char" };
        string Identity(string path) => RunIdentity.Of(TrainingFixtures.TinyModel, InitSource.Open(path).Pin(FineTune with { InitFrom = path }), data);

        InitSource.Open(step4).Sha256.Should().Be(ContentHash.OfFile(step4));
        Identity(moved).Should().Be(Identity(step4), "a moved source is the same source");
        Identity(Path.Combine(source, "checkpoints", RunFolder.CheckpointFileName(2))).Should().NotBe(Identity(step4), "other weights are another run");
        RunIdentity.Of(TrainingFixtures.TinyModel, FineTune, data).Should().NotBe(Identity(step4), "from scratch is another run");

        // Replaced under its pinned hash: refused rather than silently trained from.
        var pinned = InitSource.Open(moved).Pin(FineTune with { InitFrom = moved });
        File.Copy(Path.Combine(source, "checkpoints", RunFolder.CheckpointFileName(2)), moved, overwrite: true);
        var pin = () => InitSource.Open(moved).Pin(pinned);
        pin.Should().Throw<InvalidDataException>().Which.Message.Should().Contain(moved).And.Contain("init_from_sha256");
    }

    [Fact]
    public void The_trainer_refuses_to_start_an_init_from_run_from_random_weights()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var source = TrainSource(dir, tokens);
        var pinned = InitSource.Open(source).Pin(FineTune with { InitFrom = source });
        var trainer = Trainer.For(TrainingFixtures.TinyModel, pinned, tokens, dir.File("random")); // the harness stream: random weights
        trainer.Progress = null;
        var act = () => trainer.Train();
        act.Should().Throw<ArgumentException>().Which.Message.Should().Contain("init_from").And.Contain("random weights");
    }

    [Fact]
    public void Model_knobs_that_conflict_with_the_source_are_refused_naming_them_and_the_allowed_ones_are_stated()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var source = InitSource.Open(TrainSource(dir, tokens)); // learned positions
        var m = TrainingFixtures.TinyModel;

        var (model, notes) = source.ModelFor(m with { Dropout = 0.3, NLayer = 7 }, ["dropout"]);
        model.Dropout.Should().Be(0.3);
        model.NLayer.Should().Be(1, "n_layer was not given: the source's stands");
        notes.Should().ContainSingle().Which.Should().Contain("dropout");

        var conflict = () => source.ModelFor(m with { NLayer = 2, DModel = 32, Dropout = 0 }, ["n_layer", "d_model", "dropout"]);
        conflict.Should().Throw<ArgumentException>().Which.Message.Should().Contain("n_layer 2").And.Contain("d_model 32").And.Contain(source.Path);
        var longer = () => source.ModelFor(m with { ContextLength = 16 }, ["context_length"]);
        longer.Should().Throw<ArgumentException>().Which.Message.Should().Contain("context_length 16").And.Contain("learned");
        var (shorter, shorterNotes) = source.ModelFor(m with { ContextLength = 4 }, ["context_length"]);
        shorter.ContextLength.Should().Be(8, "a shorter training context leaves the source's model as it is");
        shorterNotes.Should().ContainSingle().Which.Should().Contain("keeps the source's 8");

        // RoPE computes its positions: a longer context needs no new weights.
        using var ropeDir = new TempDir();
        var rope = InitSource.Open(TrainSource(ropeDir, TrainingFixtures.TokenFile(ropeDir.Path), m with { Position = PositionKind.Rope }));
        var (ropeModel, ropeNotes) = rope.ModelFor(rope.Config with { ContextLength = 16 }, ["context_length"]);
        ropeModel.ContextLength.Should().Be(16);
        ropeNotes.Should().ContainSingle().Which.Should().Contain("context_length 8 -> 16");
        using var longModel = rope.Load(ropeModel);
        using var shortModel = rope.Load(rope.Config);
        foreach (var ((n, p), (_, q)) in longModel.named_parameters().Zip(shortModel.named_parameters()))
            p.eq(q).all().item<bool>().Should().BeTrue($"{n} is the source's in the longer-context model");
    }
}

using LMHarness.Data;
using LMHarness.Model;
using LMHarness.Replay;
using LMHarness.Runs;
using LMHarness.Training;
using LMHarness.Training.Checkpoints;
using LMHarness.Training.Logging;
using static TorchSharp.torch;

namespace LMHarness.Tests.Training;

/// <summary>
/// Scoring a run on the whole validation split while it trains: the replayed nanoGPT stream still trains on exactly
/// its own batches, and the val_loss column is the loss over every window of the split. Also: train_s starts at the
/// first step, not at the trainer's setup.
/// </summary>
public class WholeSplitValidationTests
{
    static LMHarness.Config.ModelConfig Tiny => TrainingFixtures.TinyModel with { FfnHidden = 64 }; // nanoGPT-shaped (4 d MLP)

    [Fact]
    public void Replayed_stream_trains_on_the_same_batches_and_val_loss_is_the_whole_split()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var t = TrainingFixtures.TinyTraining with { EvalInterval = 4, EvalBatches = 2, GradFlowInterval = 0 };
        Trainer.Run(Tiny, t, tokens, dir.File("plain"), NanoGptStream.Instance);
        var whole = WholeSplitValidation.Of(NanoGptStream.Instance);
        Trainer.Run(Tiny, t, tokens, dir.File("whole"), whole);

        var plain = MetricsRow.Read(dir.File("plain/metrics.csv"));
        var rows = MetricsRow.Read(dir.File("whole/metrics.csv"));
        rows.Select(r => r.TrainLoss).Should().Equal(plain.Select(r => r.TrainLoss), "every training batch (and dropout draw) is nanoGPT's, bit for bit");
        rows.Select(r => r.TrainEvalLoss).Should().Equal(plain.Select(r => r.TrainEvalLoss), "the train estimate is the stream's own");
        rows.Where(r => r.ValLoss is not null).Select(r => r.Step).Should().Equal(0, 4, 8, 12);

        // The final val_loss is the mean of batch means over every window of the split, recomputed here from the checkpoint.
        using var lm = new CausalLM(Tiny);
        Checkpoint.LoadModel(new RunFolder(dir.File("whole")).CheckpointPath(12), lm);
        lm.eval();
        using var file = TokenFile.Open(tokens);
        var split = new ValidationBatches(file, t.MicroBatch, t.ContextLength);
        split.Count.Should().BeGreaterThan(t.EvalBatches, "the split holds more batches than eval_batches asks for");
        double expected;
        using (no_grad())
            expected = split.Select(b => { using var s = NewDisposeScope(); return lm.Loss(b.X, b.Y).to(ScalarType.Float64).item<double>(); }).Average();
        rows[^1].ValLoss!.Value.Should().BeApproximately(expected, 1e-6);
        plain[^1].ValLoss!.Value.Should().NotBe(rows[^1].ValLoss!.Value, "nanoGPT's own estimate draws 2 random batches");

        new RunFolder(dir.File("whole")).ReadConfig().Stream.Should().Be("nanogpt+whole_val");
        WholeSplitValidation.Of(whole).Should().BeSameAs(whole);
        FluentActions.Invoking(() => Trainer.Resume(dir.File("whole"), NanoGptStream.Instance)).Should().Throw<ArgumentException>()
            .WithMessage("*follows the 'nanogpt+whole_val' random stream*");
    }

    sealed class SlowStart : IRunLogger
    {
        public void OnStart(RunStart start) => Thread.Sleep(600);
    }

    [Fact]
    public void Training_seconds_start_at_the_first_step_not_at_setup()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var trainer = Trainer.For(TrainingFixtures.TinyModel, TrainingFixtures.TinyTraining with { MaxSteps = 3 }, tokens, dir.File("run"));
        trainer.Loggers.Add(new SlowStart());
        trainer.Train();
        var rows = MetricsRow.Read(dir.File("run/metrics.csv"));
        rows[0].Step.Should().Be(0);
        rows[0].TrainS.Should().BeLessThan(0.1, "setup (here a logger that takes 0.6 s to start) is not training");
        rows[0].ElapsedS.Should().BeGreaterThan(0.6, "wall time still counts it");
    }
}

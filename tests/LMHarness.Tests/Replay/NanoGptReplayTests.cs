using LMHarness.Config;
using LMHarness.Data;
using LMHarness.Model;
using LMHarness.Replay;
using LMHarness.Tests.Data;
using LMHarness.Tests.Training;
using LMHarness.Training;
using LMHarness.Runs;
using TorchSharp;
using static TorchSharp.torch;
using LMHarness.Experiments;

namespace LMHarness.Tests.Replay;

/// <summary>
/// Replaying nanoGPT's random stream against nanoGPT's own log of its README CPU command (train.py at seed 1337,
/// PyTorch on CPU): "step 0: train loss 4.1676, val loss 4.1649", "iter 0: loss 4.1828", "iter 100: loss 2.6635",
/// "iter 200: loss 2.5039", "step 250: train loss 2.4293, val loss 2.4447". Printed to 4 decimals, hence 6e-5.
/// </summary>
public class NanoGptReplayTests
{
    const double Logged = 6e-5;

    static double MeanLoss(CausalLM lm, IEnumerable<(Tensor X, Tensor Y)> batches) =>
        batches.Select(b => { using var s = NewDisposeScope(); return (double)lm.Loss(b.X, b.Y).item<float>(); }).Average();

    [Fact]
    public void Initial_weights_and_batches_give_nanoGPTs_logged_losses_at_initialisation()
    {
        using var dir = new TempDir();
        var tokens = RunRecipes.PrepareCharTokenFile(DataFixtures.TinyShakespearePath(), dir.File("chars.bin"));
        var (_, model, training, _) = RunRecipes.NanoGptCpuReplay();
        using var lm = new CausalLM(model);
        NanoGptInit.Apply(lm, training.Seed);
        lm.eval();
        using var data = NanoGptBatches.Open(tokens, training);
        using var _ = no_grad();
        MeanLoss(lm, data.TrainSample(20)).Should().BeApproximately(4.1676, Logged);
        MeanLoss(lm, data.Validation(20)).Should().BeApproximately(4.1649, Logged);
        var (x, y) = data.NextTrain();
        ((double)lm.Loss(x, y).item<float>()).Should().BeApproximately(4.1828, Logged);
    }

    [Fact]
    public void Replayed_run_logs_nanoGPTs_losses_through_step_250()
    {
        using var dir = new TempDir();
        var recipe = RunRecipes.NanoGptCpuReplay();
        var tokens = RunRecipes.PrepareCharTokenFile(DataFixtures.TinyShakespearePath(), dir.File("chars.bin"));
        var training = recipe.Training with { Threads = 2, PeakFlops = 1e11, GradFlowInterval = 0 };
        var trainer = Trainer.For(recipe.Model, training, tokens, dir.File("run"), recipe.Stream);
        var batchLoss = new Dictionary<long, double>();
        trainer.StepCompleted += r => { batchLoss[r.Step] = r.TrainLoss; if (r.Step == 250) trainer.RequestStop(); };
        trainer.Train().Steps.Should().Be(250);

        batchLoss[101].Should().BeApproximately(2.6635, Logged, "nanoGPT's iter 100 is our 101st step");
        batchLoss[201].Should().BeApproximately(2.5039, Logged);
        var evals = MetricsRow.Read(dir.File("run/metrics.csv")).Where(r => r.ValLoss is not null).ToList();
        evals.Select(r => r.Step).Should().Equal(0, 250);
        evals[0].TrainEvalLoss!.Value.Should().BeApproximately(4.1676, Logged);
        evals[0].ValLoss!.Value.Should().BeApproximately(4.1649, Logged);
        evals[1].TrainEvalLoss!.Value.Should().BeApproximately(2.4293, Logged);
        evals[1].ValLoss!.Value.Should().BeApproximately(2.4447, Logged);
    }

    /// <summary>TinyModel with nanoGPT's 4 d feed-forward width and dropout 0.1 (dropout draws share the stream).</summary>
    static ModelConfig Tiny => TrainingFixtures.TinyModel with { FfnHidden = 64 };

    [Fact]
    public void Stopped_and_resumed_replay_continues_the_same_stream_bitwise()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var t = TrainingFixtures.TinyTraining with { CheckpointInterval = 0 };
        Trainer.Run(Tiny, t, tokens, dir.File("whole"), NanoGptStream.Instance);
        var split = dir.File("split");
        var first = Trainer.For(Tiny, t, tokens, split, NanoGptStream.Instance);
        first.StepCompleted += r => { if (r.Step == 5) first.RequestStop(); };
        first.Train().Interrupted.Should().BeTrue();
        torch.manual_seed(999); // whatever happens to the global generator in between, the checkpoint restores it
        Trainer.Resume(split, NanoGptStream.Instance).Steps.Should().Be(12);
        FluentActions.Invoking(() => Trainer.Resume(split)).Should().Throw<ArgumentException>().WithMessage("*follows the 'nanogpt' random stream*");

        var a = MetricsRow.Read(dir.File("whole/metrics.csv"));
        var b = MetricsRow.Read(Path.Combine(split, "metrics.csv"));
        b.Select(r => r.Step).Should().Equal(a.Select(r => r.Step));
        b.Select(r => r.TrainLoss).Should().Equal(a.Select(r => r.TrainLoss));
        b.Select(r => r.ValLoss).Should().Equal(a.Select(r => r.ValLoss));
        b.Select(r => r.TrainEvalLoss).Should().Equal(a.Select(r => r.TrainEvalLoss));
    }

    [Fact]
    public void Replay_draws_from_torchs_generator_so_the_seed_decides_the_run()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var t = TrainingFixtures.TinyTraining with { MaxSteps = 4, EvalInterval = 4 };
        double Final(long seed, string name) => Trainer.Run(Tiny, t with { Seed = seed }, tokens, dir.File(name), NanoGptStream.Instance).FinalValLoss!.Value;
        Final(3, "a").Should().Be(Final(3, "b"));
        Final(3, "a2").Should().NotBe(Final(4, "c"));
    }

    [Fact]
    public void Replay_refuses_a_model_nanoGPT_cannot_build_naming_every_difference()
    {
        using var dir = new TempDir();
        var llama = RunRecipes.LlamaCpu();
        var act = () => Trainer.Run(llama.Model, llama.Training, TrainingFixtures.TokenFile(dir.Path), dir.File("run"), NanoGptStream.Instance);
        act.Should().Throw<ArgumentException>().WithMessage("*replay nanogpt*position must be learned*norm must be layer_norm*feed_forward_kinds must all be mlp*ffn_hidden*harness's own stream*");
        using var lm = new CausalLM(llama.Model);
        var apply = () => NanoGptInit.Apply(lm, 1);
        apply.Should().Throw<ArgumentException>().WithMessage("*position must be learned*");

        var blocks = Presets.Get("nanogpt-cpu") with { QkNorm = true, LogitSoftcap = 15, ValueEmbeddings = true, SkipConnections = true, ZeroInitOutputs = true };
        var speedrun = () => Trainer.Run(blocks, llama.Training, TrainingFixtures.TokenFile(dir.Path), dir.File("speedrun"), NanoGptStream.Instance);
        speedrun.Should().Throw<ArgumentException>()
            .WithMessage("*qk_norm must be false*logit_softcap must be 0*value_embeddings must be false*skip_connections must be false*zero_init_outputs must be false*");
    }
}

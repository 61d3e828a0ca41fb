using LMHarness.Interop;
using LMHarness.Runs;
using LMHarness.Scripting;
using LMHarness.Tests.Training;
using LMHarness.Training;

namespace LMHarness.Tests.Scripting;

/// <summary>
/// scripts/train.csx --init_from: the command line starts from the source (its step 0 is the source's own evaluation,
/// config.json records the source's hash), and a model knob that conflicts with the source ends the script with one
/// error naming the field, before a run folder is written.
/// </summary>
[Collection(nameof(GlobalTorchState))] // the script trains in this process: torch's seed and thread count
public sealed class InitFromScriptTests
{
    [Fact]
    public void Train_csx_starts_from_init_from_and_refuses_a_conflicting_model_knob()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var source = dir.File("source");
        var sourceTraining = TrainingFixtures.TinyTraining with { MaxSteps = 4, WarmupSteps = 1, EvalInterval = 4 };
        var trainer = Trainer.For(TrainingFixtures.TinyModel, sourceTraining, tokens, source);
        trainer.Progress = null;
        trainer.Train();

        // The evaluation the source made at its last step uses these batch shapes: the same ones here.
        string[] Args(string run, params string[] extra) =>
        [
            "--data", tokens, "--init_from", source, "--max_steps", "2", "--warmup_steps", "0", "--eval_interval", "1",
            "--eval_batches", "3", "--micro_batch", "4", "--context_length", "8", "--threads", "1", "--device", "cpu", "--out", run, .. extra,
        ];
        var script = Path.Combine(RepoPaths.Root, "scripts", "train.csx");
        var errors = new StringWriter();
        ScriptRunner.Run(script, Args(dir.File("tuned")), errors).Should().Be(0, errors.ToString());
        var rows = MetricsRow.Read(Path.Combine(dir.File("tuned"), RunFolder.MetricsFile));
        rows.Single(r => r.Step == 0).ValLoss.Should().Be(MetricsRow.Read(Path.Combine(source, RunFolder.MetricsFile)).Last().ValLoss);
        new RunFolder(dir.File("tuned")).ReadConfig().Training.InitFromSha256.Should().Be(InitSource.Open(source).Sha256);

        errors = new StringWriter();
        ScriptRunner.Run(script, Args(dir.File("conflict"), "--n_layer", "3"), errors).Should().Be(1);
        errors.ToString().Should().Contain("n_layer 3 (the source's is 1)");
        Directory.Exists(dir.File("conflict")).Should().BeFalse("the refusal comes before the run folder is made");
    }

    [Fact]
    public void Prepare_csx_tokenizer_from_writes_a_token_file_that_init_from_accepts()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var source = dir.File("source");
        var trainer = Trainer.For(TrainingFixtures.TinyModel, TrainingFixtures.TinyTraining with { MaxSteps = 2, WarmupSteps = 1, EvalInterval = 2 }, tokens, source);
        trainer.Progress = null;
        trainer.Train();
        var text = dir.File("notes.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Repeat("hello, world; a quiet sea. why not? ", 200)));

        var errors = new StringWriter();
        var prepared = dir.File("notes.bin");
        ScriptRunner.Run(Path.Combine(RepoPaths.Root, "scripts", "prepare.csx"), ["--source", text, "--tokenizer_from", source, "--out", prepared], errors)
            .Should().Be(0, errors.ToString());
        using (var file = LMHarness.Data.TokenFile.Open(prepared))
            file.Tokenizer.Matches(InitSource.Open(source).Tokenizer!).Should().BeTrue("the corpus is tokenized with the source's char table");
        var plan = () => InitSource.Plan(TrainingFixtures.TinyModel, [], TrainingFixtures.TinyTraining with { InitFrom = source }, prepared);
        plan.Should().NotThrow();
    }
}

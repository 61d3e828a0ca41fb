using LMHarness.Experiments;
using LMHarness.Runs;
using LMHarness.Tests.Training;
using LMHarness.Training;

namespace LMHarness.Tests.Experiments;

/// <summary>
/// A recipe's variant whose training config has init_from: it starts from the source's weights (with the dropout the
/// recipe gives), a re-run reuses it, and once the source's content changes it is a new run in a new folder while
/// the from-scratch variant beside it is still reused.
/// </summary>
[Collection(nameof(GlobalTorchState))] // training seeds torch's generator and sets its thread count
public sealed class ExperimentInitFromTests
{
    static void TrainSource(string path, string tokens, int steps)
    {
        var t = TrainingFixtures.TinyTraining with { MaxSteps = steps, WarmupSteps = 1, EvalInterval = 4, CheckpointInterval = 4 };
        var trainer = Trainer.For(TrainingFixtures.TinyModel, t, tokens, path);
        trainer.Progress = null;
        trainer.Train();
    }

    static Experiment Recipe(string root, string tokens, string source)
    {
        var exp = new Experiment("finetune", ["--out", root, "--data", tokens, "--seeds", "1"]);
        var t = TrainingFixtures.TinyTraining with { MaxSteps = 6, WarmupSteps = 1, EvalInterval = 3, GradFlowInterval = 0 };
        exp.Variant("tuned", TrainingFixtures.TinyModel with { Dropout = 0 }, t with { InitFrom = source });
        exp.Variant("scratch", TrainingFixtures.TinyModel, t);
        return exp;
    }

    static double ValAt(string run, long step) => MetricsRow.Read(Path.Combine(run, RunFolder.MetricsFile)).Single(r => r.Step == step).ValLoss!.Value;

    [Fact]
    public void An_init_from_variant_starts_from_its_source_is_reused_and_is_a_new_run_once_the_source_changes()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var root = dir.File("runs");
        var source = dir.File("source");
        TrainSource(source, tokens, 4);

        var first = Recipe(root, tokens, source);
        first.Run();
        var tuned = first.RunFolder("tuned", 0);
        ValAt(tuned, 0).Should().Be(ValAt(source, 4), "the variant starts from the source's weights");
        ValAt(first.RunFolder("scratch", 0), 0).Should().NotBe(ValAt(source, 4));
        var config = new RunFolder(tuned).ReadConfig();
        config.Model.Dropout.Should().Be(0, "the recipe's dropout replaces the source's 0.1");
        config.Training.InitFromSha256.Should().NotBeEmpty();

        var again = Recipe(root, tokens, source);
        var md = File.ReadAllText(again.Run().MarkdownPath);
        md.Should().Contain("- tuned/seed0: reused").And.Contain("- scratch/seed0: reused");

        TrainSource(source, tokens, 8); // the source trains on: its newest checkpoint, so its content, changes
        var changed = Recipe(root, tokens, source);
        md = File.ReadAllText(changed.Run().MarkdownPath);
        md.Should().NotContain("- tuned/seed0: reused").And.Contain("- scratch/seed0: reused");
        changed.RunFolder("tuned", 0).Should().NotBe(tuned, "a changed source is a new run, beside the kept old one");
        ValAt(changed.RunFolder("tuned", 0), 0).Should().Be(ValAt(source, 8));
        File.Exists(Path.Combine(tuned, RunFolder.ResultFile)).Should().BeTrue();
    }
}

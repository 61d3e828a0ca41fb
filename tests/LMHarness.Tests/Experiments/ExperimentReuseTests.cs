using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using LMHarness.Experiments;
using LMHarness.Runs;
using LMHarness.Tests.Training;
using LMHarness.Tokenizers;
using LMHarness.Data;
using LMHarness.Training;

namespace LMHarness.Tests.Experiments;

/// <summary>
/// Re-running a recipe reuses what is done and keeps what changed: smoke runs never touch real results, a finished
/// run with the same identity is reused, a changed variant trains into a new folder beside the kept old one, an
/// interrupted run resumes, --fresh retrains, and a different token file never reuses.
/// </summary>
public class ExperimentReuseTests
{
    static Experiment Recipe(string root, string tokens, double lrOfB, params string[] extra)
    {
        var exp = new Experiment("reuse", ["--out", root, "--data", tokens, "--seeds", "1", .. extra]);
        var t = TrainingFixtures.TinyTraining with { MaxSteps = 6, EvalInterval = 3, GradFlowInterval = 0 };
        exp.Variant("a", TrainingFixtures.TinyModel, t);
        exp.Variant("b", TrainingFixtures.TinyModel, t with { LearningRate = lrOfB, MinLearningRate = lrOfB / 10 });
        return exp;
    }

    /// <summary>Every file under <paramref name="dir"/> with its SHA-256: equal maps mean byte-identical trees.</summary>
    static Dictionary<string, string> Snapshot(string dir) =>
        Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(dir, f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    [Fact]
    public void Smoke_runs_apart_and_a_rerun_reuses_every_finished_run_byte_for_byte()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var root = dir.File("runs");
        Recipe(root, tokens, 3e-3).Run();
        var runs = Path.Combine(root, "reuse");
        var first = Snapshot(runs);
        first.Keys.Should().Contain(["a/seed0/metrics.csv", "a/seed0/config.json", "a/seed0/result.json", "b/seed0/metrics.csv"]);

        var smoke = Recipe(root, tokens, 3e-3, "--smoke");
        smoke.Folder.Should().Be(Path.Combine(root, "smoke", "reuse"), "smoke runs go under their own root");
        smoke.Run();
        File.Exists(Path.Combine(root, "smoke", "reuse", "a", "seed0", "metrics.csv")).Should().BeTrue();

        var again = Recipe(root, tokens, 3e-3).Run();
        var second = Snapshot(runs);
        second.Where(f => !f.Key.StartsWith("a/", StringComparison.Ordinal) && !f.Key.StartsWith("b/", StringComparison.Ordinal))
            .Select(f => f.Key).Should().OnlyContain(k => k.StartsWith("comparison.", StringComparison.Ordinal) || k.EndsWith(".png", StringComparison.Ordinal) || k == "report.html");
        static Dictionary<string, string> RunFiles(Dictionary<string, string> files) => files.Where(f => f.Key.Contains('/')).ToDictionary();
        RunFiles(second).Should().Equal(RunFiles(first), "neither the smoke run nor the re-run touched a file of the finished runs");
        var md = File.ReadAllText(again.MarkdownPath);
        md.Should().Contain("- a/seed0: reused").And.Contain("- b/seed0: reused");
        again.Rows.Select(r => r.Variant).Should().Equal("a", "b");
    }

    /// <summary>
    /// fused_loss came after runs were trained: a finished run whose config.json has no fused_loss reads it as auto, the
    /// default, and is reused as it is; one trained with fused_loss off is another run.
    /// </summary>
    [Fact]
    public void A_finished_run_whose_config_predates_fused_loss_is_reused_and_one_with_it_off_is_not()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var root = dir.File("runs");
        Recipe(root, tokens, 3e-3).Run();
        var a = Path.Combine(root, "reuse", "a", "seed0");
        var config = Path.Combine(a, RunFolder.ConfigFile);
        var json = JsonNode.Parse(File.ReadAllText(config))!;
        json["training"]!.AsObject().Remove("fused_loss").Should().BeTrue("config.json records the knob");
        File.WriteAllText(config, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        var before = Snapshot(a);

        var md = File.ReadAllText(Recipe(root, tokens, 3e-3).Run().MarkdownPath);
        md.Should().Contain("- a/seed0: reused");
        Snapshot(a).Should().Equal(before, "the earlier run is reused as it is");

        json["training"]!["fused_loss"] = "off";
        File.WriteAllText(config, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        Recipe(root, tokens, 3e-3).RunFolder("a", 0).Should().NotBe(a, "a run with the fused loss off is not the default run");
    }

    [Fact]
    public void Changing_one_variant_trains_only_it_into_a_new_folder_and_keeps_the_old_one()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var root = dir.File("runs");
        Recipe(root, tokens, 3e-3).Run();
        var oldB = Snapshot(Path.Combine(root, "reuse", "b", "seed0"));
        var a = Snapshot(Path.Combine(root, "reuse", "a", "seed0"));

        var edited = Recipe(root, tokens, 1e-3);
        var newB = edited.RunFolder("b", 0);
        newB.Should().NotBe(Path.Combine(root, "reuse", "b", "seed0")).And.StartWith(Path.Combine(root, "reuse", "b", "seed0-"));
        var report = edited.Run();

        Snapshot(Path.Combine(root, "reuse", "b", "seed0")).Should().Equal(oldB, "the earlier result is kept as it was");
        Snapshot(Path.Combine(root, "reuse", "a", "seed0")).Should().Equal(a, "the unchanged variant is reused");
        new RunFolder(newB).ReadResult()!.Complete.Should().BeTrue();
        var md = File.ReadAllText(report.MarkdownPath);
        md.Should().Contain("- a/seed0: reused");
        md.Should().Contain("- b/seed0: new (config changed since").And.Contain("training.learning_rate: 0.003 -> 0.001");
        md.Should().Contain("- b: ").And.Contain("training.learning_rate: 0.003 -> 0.001", "the report spells out what differs from the baseline");
        report.Rows.Single(r => r.Variant == "b").Folder.Should().Be(newB);
    }

    [Fact]
    public void An_interrupted_run_resumes_and_fresh_retrains_on_purpose()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var root = dir.File("runs");
        var exp = Recipe(root, tokens, 3e-3);
        var t = TrainingFixtures.TinyTraining with { MaxSteps = 6, EvalInterval = 3, GradFlowInterval = 0 };
        // Interrupt variant a at step 4 in the folder the recipe will use, as Ctrl-C (or a crash after a checkpoint) would.
        var trainer = Trainer.For(TrainingFixtures.TinyModel, t with { CheckpointInterval = 2 }, tokens, exp.RunFolder("a", 0));
        trainer.StepCompleted += r => { if (r.Step == 4) trainer.RequestStop(); };
        trainer.Train().Interrupted.Should().BeTrue();

        var md = File.ReadAllText(exp.Run().MarkdownPath);
        md.Should().Contain("- a/seed0: resumed (resumed from step_0000004.ckpt)");
        new RunFolder(Path.Combine(root, "reuse", "a", "seed0")).ReadResult()!.Steps.Should().Be(6);

        var fresh = File.ReadAllText(Recipe(root, tokens, 3e-3, "--fresh").Run().MarkdownPath);
        fresh.Should().Contain("- a/seed0: new (--fresh)").And.Contain("- b/seed0: new (--fresh)");
    }

    [Fact]
    public void A_different_token_file_never_reuses()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var root = dir.File("runs");
        var first = Recipe(root, tokens, 3e-3);
        var before = first.RunFolder("a", 0);
        first.Run();
        // Same tokenizer and size, other ids: a re-prepared corpus.
        var other = dir.File("other/tokens.bin");
        var rng = new Random(9);
        using (var w = new TokenFileWriter(other, new TokenizerIdentity(TokenizerKind.Char, 32, TrainingFixtures.AsciiTable)))
        {
            w.Write(Enumerable.Range(0, 4000).Select(_ => rng.Next(32)).ToArray());
            w.Complete(0.1, 1, []);
        }
        Recipe(root, other, 3e-3).RunFolder("a", 0).Should().NotBe(before);
    }

    [Fact]
    public void A_variant_can_take_its_own_seed_count_and_Runs_lists_the_compared_runs()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var exp = new Experiment("seeds", ["--out", dir.File("runs"), "--data", tokens, "--seeds", "2"]);
        var t = TrainingFixtures.TinyTraining with { MaxSteps = 3, EvalInterval = 3, GradFlowInterval = 0 };
        exp.Variant("baseline", TrainingFixtures.TinyModel, t, seeds: 1);
        exp.Variant("candidate", TrainingFixtures.TinyModel, t with { LearningRate = 1e-3 });
        FluentActions.Invoking(() => exp.Variant("none", TrainingFixtures.TinyModel, t, seeds: 0)).Should().Throw<ArgumentException>()
            .WithMessage("*variant 'none' needs at least 1 seed (got 0)*");
        exp.Runs.Should().BeEmpty();
        var report = exp.Run();
        exp.Runs.Select(r => r.Label).Should().Equal("baseline/seed0", "candidate/seed0", "candidate/seed1");
        report.Rows.Select(r => (r.Variant, r.Seed)).Should().Equal(("baseline", 0), ("candidate", 0), ("candidate", 1));
        Directory.Exists(Path.Combine(exp.Folder, "baseline", "seed1")).Should().BeFalse();
    }
}

using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LMHarness.Config;
using LMHarness.Interop;
using LMHarness.Model;
using LMHarness.Runs;
using LMHarness.Tests.Training;
using LMHarness.Training;
using LMHarness.Training.Checkpoints;
using LMHarness.Training.Logging;
using LMHarness.Training.Optimizers;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LMHarness.Tests.Integrity;

public class CheckpointIntegrityTests(ITestOutputHelper output)
{
    static readonly string[] SectionNames = ["state", "model", "optimizer", "rng"];

    static RunResult Train(TrainingConfig t, string tokens, string runDir, Action<Trainer>? setup = null)
    {
        using var data = TokenFileBatches.Open(tokens, t);
        var trainer = new Trainer(TrainingFixtures.TinyModel, t, data, runDir, c => new CausalLM(c));
        setup?.Invoke(trainer);
        return trainer.Train();
    }

    /// <summary>A two-step run's final checkpoint (real optimizer state and RNG).</summary>
    static string TrainedCheckpoint(TempDir dir)
    {
        var t = TrainingFixtures.TinyTraining with { MaxSteps = 2, WarmupSteps = 0, GradFlowInterval = 0 };
        Train(t, TrainingFixtures.TokenFile(dir.Path), dir.File("run"));
        return new RunFolder(dir.File("run")).LatestCheckpoint!;
    }

    /// <summary>(name, offset of the content, content length) of each section, parsed here from the bytes, independently of the reader.</summary>
    static List<(string Name, int At, int Length)> Sections(byte[] b)
    {
        var list = new List<(string, int, int)>();
        var pos = 1 + b[0];
        Encoding.ASCII.GetString(b, 1, b[0]).Should().Be("LMHARNESS-CHECKPOINT-2");
        foreach (var name in SectionNames)
        {
            Encoding.UTF8.GetString(b, pos + 1, b[pos]).Should().Be(name);
            pos += 1 + b[pos];
            var length = (int)BinaryPrimitives.ReadInt64LittleEndian(b.AsSpan(pos));
            pos += 8;
            list.Add((name, pos, length));
            SHA256.HashData(b.AsSpan(pos, length)).Should().Equal(b.AsSpan(pos + length, 32).ToArray(), $"section {name} carries the SHA-256 of its content");
            pos += length + 32;
        }
        Encoding.ASCII.GetString(b, pos + 1, b[pos]).Should().Be("END");
        (pos + 4).Should().Be(b.Length, "nothing follows the end marker");
        return list;
    }

    /// <summary>The messages a trainer reports (warnings, resuming).</summary>
    sealed class Messages : IRunLogger
    {
        public List<string> Lines { get; } = [];
        public void OnMessage(string message) => Lines.Add(message);
    }

    static List<Tensor> Snapshot(nn.Module m) => m.parameters().Select(p => p.detach().clone()).ToList();

    static void ShouldBeUnchanged(nn.Module m, List<Tensor> before, string because)
    {
        foreach (var (p, q) in m.parameters().Zip(before))
            p.eq(q).all().item<bool>().Should().BeTrue(because);
    }

    [Fact]
    public void Format_2_holds_four_sections_each_followed_by_the_sha256_of_its_bytes()
    {
        using var dir = new TempDir();
        var path = TrainedCheckpoint(dir);
        var sections = Sections(File.ReadAllBytes(path));
        sections.Select(s => s.Name).Should().Equal(SectionNames);
        Checkpoint.Verify(path).Should().Be(2);
        Directory.GetFiles(new RunFolder(dir.File("run")).CheckpointsPath, "*.tmp").Should().BeEmpty("the writer's temp was renamed into place");
    }

    [Fact]
    public void A_flipped_bit_in_any_section_is_refused_naming_the_file_and_the_section_before_the_model_changes()
    {
        using var dir = new TempDir();
        var path = TrainedCheckpoint(dir);
        var original = File.ReadAllBytes(path);
        using var model = new CausalLM(TrainingFixtures.TinyModel);
        var before = Snapshot(model);
        foreach (var (name, at, length) in Sections(original))
        {
            var bad = (byte[])original.Clone();
            bad[at + length / 2] ^= 0x01; // one bit, e.g. in a weight's mantissa: the value would still look plausible
            var file = dir.File($"flip-{name}.ckpt");
            File.WriteAllBytes(file, bad);
            // LoadModel reads only the weights, yet a flip in the optimizer or RNG section refuses it too: the file is damaged.
            FluentActions.Invoking(() => Checkpoint.LoadModel(file, model)).Should().Throw<InvalidDataException>()
                .WithMessage($"Checkpoint {file} is damaged: section '{name}'*does not match its SHA-256 checksum*");
            ShouldBeUnchanged(model, before, $"a flip in section {name} changes nothing in the model");
            FluentActions.Invoking(() => ModelSource.Load(file)).Should().Throw<InvalidDataException>().WithMessage($"*{file}*damaged*");
        }
        Checkpoint.LoadModel(path, model); // and the undamaged file loads
    }

    [Fact]
    public void Sample_and_export_refuse_a_truncated_newest_checkpoint_and_name_the_intact_previous_one()
    {
        using var dir = new TempDir();
        var t = TrainingFixtures.TinyTraining with { MaxSteps = 4, WarmupSteps = 0, CheckpointInterval = 2, GradFlowInterval = 0 };
        Train(t, TrainingFixtures.TokenFile(dir.Path), dir.File("run"));
        var newest = dir.File("run/checkpoints/" + RunFolder.CheckpointFileName(4));
        var bytes = File.ReadAllBytes(newest);
        File.WriteAllBytes(newest, bytes[..(bytes.Length / 2)]);

        // ModelSource is what sample.csx and export.csx load through.
        FluentActions.Invoking(() => ModelSource.Load(dir.File("run"))).Should().Throw<InvalidDataException>()
            .WithMessage($"Checkpoint {newest} is damaged: *truncated*The previous checkpoint {dir.File("run/checkpoints/" + RunFolder.CheckpointFileName(2))} is intact*");
        ModelSource.Load(dir.File("run/checkpoints/" + RunFolder.CheckpointFileName(2))).Model.Config.Should().Be(TrainingFixtures.TinyModel);
    }

    [Fact]
    public void Resume_falls_back_to_the_previous_checkpoint_with_a_warning_naming_both_and_ends_bitwise_where_an_uninterrupted_run_does()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var t = TrainingFixtures.TinyTraining with { CheckpointInterval = 3 };
        Train(t, tokens, dir.File("whole"));

        Train(t, tokens, dir.File("split"), tr => tr.StepCompleted += r => { if (r.Step == 7) tr.RequestStop(); });
        var split = new RunFolder(dir.File("split"));
        split.Checkpoints.Select(Path.GetFileName).Should().Equal(RunFolder.CheckpointFileName(6), RunFolder.CheckpointFileName(7));
        var damaged = split.CheckpointPath(7);
        var bytes = File.ReadAllBytes(damaged);
        bytes[bytes.Length / 2] ^= 0x10;
        File.WriteAllBytes(damaged, bytes);

        var log = new Messages();
        Train(t, tokens, dir.File("split"), tr => tr.Progress = log).Steps.Should().Be(12);
        log.Lines.Should().Contain(l => l.StartsWith($"warning: checkpoint {damaged} is damaged (") && l.Contains($"resuming from the previous checkpoint {split.CheckpointPath(6)} instead"));
        log.Lines.Should().Contain(l => l.StartsWith($"resuming {split.Path} from step 6 "));

        var a = MetricsRow.Read(dir.File("whole/metrics.csv"));
        var b = MetricsRow.Read(dir.File("split/metrics.csv"));
        b.Select(r => r.Step).Should().Equal(a.Select(r => r.Step), "the rows after step 6 were trained again, once each");
        b.Select(r => r.TrainLoss).Should().Equal(a.Select(r => r.TrainLoss), "bitwise");
        b.Select(r => r.ValLoss).Should().Equal(a.Select(r => r.ValLoss));
        using var ma = new CausalLM(TrainingFixtures.TinyModel);
        using var mb = new CausalLM(TrainingFixtures.TinyModel);
        Checkpoint.LoadModel(dir.File("whole/checkpoints/" + RunFolder.CheckpointFileName(12)), ma);
        Checkpoint.LoadModel(dir.File("split/checkpoints/" + RunFolder.CheckpointFileName(12)), mb);
        foreach (var ((n, p), (_, q)) in ma.named_parameters().Zip(mb.named_parameters()))
            p.eq(q).all().item<bool>().Should().BeTrue($"{n} bitwise equal");
    }

    [Fact]
    public void Resume_with_every_checkpoint_damaged_is_refused_naming_them_instead_of_starting_over()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var t = TrainingFixtures.TinyTraining with { CheckpointInterval = 3 };
        Train(t, tokens, dir.File("run"), tr => tr.StepCompleted += r => { if (r.Step == 7) tr.RequestStop(); });
        var files = new RunFolder(dir.File("run")).Checkpoints;
        foreach (var f in files) File.WriteAllBytes(f, File.ReadAllBytes(f)[..100]);
        var metrics = File.ReadAllText(dir.File("run/metrics.csv"));

        FluentActions.Invoking(() => Train(t, tokens, dir.File("run"))).Should().Throw<InvalidDataException>()
            .WithMessage($"Checkpoint {files[1]} is damaged: *truncated*and so is every other checkpoint of*{Path.GetFileName(files[0])}*Delete the checkpoints folder*");
        File.ReadAllText(dir.File("run/metrics.csv")).Should().Be(metrics, "nothing of the run is touched");
    }

    [Fact]
    public void Format_1_checkpoint_loads_with_a_warning_and_a_truncated_one_is_refused()
    {
        using var dir = new TempDir();
        torch.manual_seed(3);
        using var model = new CausalLM(TrainingFixtures.TinyModel);
        var config = TrainingFixtures.TinyTraining;
        using var optimizer = OptimizerFactory.Create(model, config);
        var path = dir.File("step_0000001.ckpt");
        // Format 1 as the previous version wrote it: unframed, no checksums.
        using (var w = new BinaryWriter(File.Create(path), Encoding.UTF8))
        {
            w.Write("LMHARNESS-CHECKPOINT-1");
            w.Write(JsonSerializer.Serialize(new CheckpointState(1, 64, 1.0, null, TrainingFixtures.TinyModel, config, null, null), ModelConfig.Json));
            var sd = model.state_dict();
            w.Write(sd.Count);
            foreach (var (name, t) in sd) { w.Write(name); t.Save(w); }
            optimizer.Save(w);
            using (var rng = torch.random.get_rng_state()) rng.Save(w);
            w.Write("END");
        }

        using var other = new CausalLM(TrainingFixtures.TinyModel);
        using var otherOptimizer = OptimizerFactory.Create(other, config);
        var log = new StringWriter();
        Checkpoint.Load(path, other, otherOptimizer, log).Step.Should().Be(1);
        log.ToString().Should().Contain($"warning: checkpoint {path} is in format 1").And.Contain("loaded unverified");
        foreach (var ((n, p), (_, q)) in model.named_parameters().Zip(other.named_parameters()))
            p.eq(q).all().item<bool>().Should().BeTrue($"{n} loads from format 1");
        Checkpoint.Verify(path).Should().Be(1);

        File.WriteAllBytes(path, File.ReadAllBytes(path)[..^10]);
        FluentActions.Invoking(() => Checkpoint.LoadModel(path, other, TextWriter.Null)).Should().Throw<InvalidDataException>()
            .WithMessage($"Checkpoint {path} is damaged: it is truncated (its end marker is missing)*");
    }

    [Fact]
    public void Fuzz_1000_truncations_and_byte_flips_are_all_refused_naming_the_file_and_the_intact_checkpoint_loads()
    {
        using var dir = TempDir.InMemory();
        var path = TrainedCheckpoint(dir);
        var original = File.ReadAllBytes(path);
        using var model = new CausalLM(TrainingFixtures.TinyModel);
        using var optimizer = OptimizerFactory.Create(model, TrainingFixtures.TinyTraining);
        var before = Snapshot(model);
        var file = dir.File("fuzz.ckpt");
        int truncations = 0, flips = 0;
        foreach (var c in Damage.Cases(original, 1000, seed: 11))
        {
            File.WriteAllBytes(file, c.Bytes);
            var act = () => Checkpoint.Load(file, model, optimizer, TextWriter.Null);
            act.Should().Throw<InvalidDataException>($"{c.What} must be refused").WithMessage($"Checkpoint {file} is damaged: *");
            if (c.Truncated) truncations++; else flips++;
        }
        ShouldBeUnchanged(model, before, "no damaged checkpoint changed the model");
        output.WriteLine($"checkpoint fuzz ({original.Length:N0}-byte file): {truncations} truncations and {flips} flipped copies, all refused");
        (truncations, flips).Should().Be((500, 500));

        File.WriteAllBytes(file, original);
        Checkpoint.Load(file, model, optimizer, TextWriter.Null).Step.Should().Be(2);
    }
}

using System.Diagnostics;
using LMHarness.Config;
using LMHarness.IO;
using LMHarness.Runs;
using LMHarness.Training;
using LMHarness.Training.Logging;

namespace LMHarness.Tests.Training;

/// <summary>
/// Issue 21, items 3 and 5: a run changes nothing until it can run (config.json is rewritten only once training starts),
/// an old checkpoint that cannot be deleted is a warning, a metrics row is never left torn, and an interrupted and
/// resumed run's metrics.csv has the uninterrupted run's rows.
/// </summary>
public class RunChangesTests
{
    static RunResult Train(TrainingConfig t, string tokens, string dir, IRunLogger? progress = null)
    {
        var trainer = Trainer.For(TrainingFixtures.TinyModel, t, tokens, dir);
        trainer.Progress = progress;
        return trainer.Train();
    }

    static TrainingConfig Short => TrainingFixtures.TinyTraining with { MaxSteps = 6, EvalInterval = 3, GradFlowInterval = 0, CheckpointInterval = 3 };

    [Fact]
    public void An_extension_that_fails_before_training_leaves_config_json_as_it_was()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var run = dir.File("run");
        Train(Short, tokens, run);
        var config = File.ReadAllBytes(Path.Combine(run, RunFolder.ConfigFile));
        // metrics.csv cannot be rewritten (a folder in its place here; `chattr +i` in the issue): the extension fails.
        var metrics = Path.Combine(run, RunFolder.MetricsFile);
        File.Move(metrics, metrics + ".kept");
        Directory.CreateDirectory(metrics);
        File.WriteAllText(Path.Combine(metrics, "x"), "");

        FluentActions.Invoking(() => Train(Short with { MaxSteps = 12 }, tokens, run)).Should().Throw<IOException>()
            .WithMessage($"Cannot rewrite {metrics} (*): make it and its folder writable*Nothing else in the run folder was changed.");
        File.ReadAllBytes(Path.Combine(run, RunFolder.ConfigFile)).Should().Equal(config, "config.json still says 6 steps, as the checkpoints and result.json do");
        new RunFolder(run).ReadConfig().Training.MaxSteps.Should().Be(6);
    }

    /// <summary>Makes <paramref name="path"/> undeletable with chattr +i (root on ext4, as the issue did); false where that is not possible.</summary>
    static bool Immutable(string path, bool on)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("chattr", [on ? "+i" : "-i", path]) { RedirectStandardError = true })!;
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception) { return false; } // no chattr
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void An_old_checkpoint_that_cannot_be_deleted_is_a_warning_and_the_run_goes_on()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var run = dir.File("run");
        var t = Short with { KeepCheckpoints = 1 };
        Train(t, tokens, run);
        var old = new RunFolder(run).CheckpointPath(6);
        if (!Immutable(old, on: true))
        {
            // Not root: a read-only checkpoints folder makes the deletion fail instead (a run could not save there, so
            // the folder's pruning is checked alone).
            var folder = new RunFolder(run);
            File.Copy(old, folder.CheckpointPath(7));
            File.SetUnixFileMode(folder.CheckpointsPath, UnixFileMode.UserRead | UnixFileMode.UserExecute);
            try { folder.PruneCheckpoints(1).Should().ContainSingle().Which.Path.Should().Be(old); }
            finally { File.SetUnixFileMode(folder.CheckpointsPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute); }
            return;
        }
        try
        {
            var messages = new Messages();
            var result = Train(t with { MaxSteps = 12 }, tokens, run, messages);
            result.Complete.Should().BeTrue("one undeletable checkpoint does not stop the run");
            result.Steps.Should().Be(12);
            messages.Lines.Where(l => l.StartsWith("warning:")).Should().ContainSingle("said once, though two checkpoints tried to delete it")
                .Which.Should().StartWith($"warning: could not delete the old checkpoint {old}").And.Contain("training goes on");
            new RunFolder(run).Checkpoints.Select(Path.GetFileName).Should().Equal("step_0000006.ckpt", "step_0000012.ckpt");
        }
        finally { Immutable(old, on: false); }
    }

    /// <summary>A file stream that writes part of a buffer and then fails, as a write does when the disk fills.</summary>
    sealed class FillingDisk(FileStream inner, int failOnWrite) : Stream
    {
        int _writes;
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (++_writes < failOnWrite) { inner.Write(buffer); return; }
            inner.Write(buffer[..(buffer.Length / 2)]);
            inner.Flush();
            throw new IOException("No space left on device");
        }
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Flush() => inner.Flush();
        public override void SetLength(long value) => inner.SetLength(value);
        public override long Length => inner.Length;
        public override bool CanRead => false;
        public override bool CanSeek => inner.CanSeek;
        public override bool CanWrite => true;
        public override long Position { get => inner.Position; set => inner.Position = value; }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);
        protected override void Dispose(bool disposing) { if (disposing) inner.Dispose(); base.Dispose(disposing); }
    }

    static MetricsRow Row(long step) => new(step, step * 64, 3.5 - step * 0.01, null, null, null, 1e-3, 0.5, 1000, 0.01, step, step, 0, 100, null);

    [Fact]
    public void A_metrics_row_whose_write_fails_is_cut_off_so_the_file_ends_with_a_whole_row()
    {
        using var dir = new TempDir();
        var path = dir.File("metrics.csv");
        using (var writer = new RecordWriter<MetricsRow>(path, MetricsRow.Columns, null, r => r.ToCsv(),
                   p => new FillingDisk(new FileStream(p, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0), failOnWrite: 3)))
        {
            writer.Write(Row(1));
            writer.Write(Row(2));
            FluentActions.Invoking(() => writer.Write(Row(3))).Should().Throw<IOException>().WithMessage("No space left on device");
        }
        var text = File.ReadAllText(path);
        text.Should().EndWith("\n").And.Be(Csv.Line(MetricsRow.Columns) + Row(1).ToCsv() + Row(2).ToCsv(), "the torn third row is gone");
        var log = new StringWriter();
        MetricsRow.Read(path, log).Select(r => r.Step).Should().Equal(1, 2);
        log.ToString().Should().BeEmpty("nothing was dropped");
    }

    [Fact]
    public void A_reader_that_drops_a_torn_row_says_so_naming_the_file()
    {
        using var dir = new TempDir();
        var path = dir.File("metrics.csv");
        File.WriteAllText(path, Csv.Line(MetricsRow.Columns) + Row(1).ToCsv() + Row(2).ToCsv()[..20]);
        var log = new StringWriter();
        MetricsRow.Read(path, log).Select(r => r.Step).Should().Equal(1);
        log.ToString().Should().Be($"warning: {path} ends in a row cut short (a write that did not finish: a crash or a full disk); that row is left out.\n");
    }

    /// <summary>The tiny run's batches, asking the trainer to stop while it draws those of <paramref name="stopInStep"/>,
    /// as a Ctrl-C arriving in the middle of that step does.</summary>
    sealed class StopInStep(IBatchSource inner, int stopInStep, int microBatches) : IBatchSource
    {
        int _draws;
        public Trainer? Trainer { get; set; }
        public (TorchSharp.torch.Tensor X, TorchSharp.torch.Tensor Y) NextTrain()
        {
            if (++_draws == (stopInStep - 1) * microBatches + 1) Trainer!.RequestStop();
            return inner.NextTrain();
        }
        public IEnumerable<(TorchSharp.torch.Tensor X, TorchSharp.torch.Tensor Y)> TrainSample(int batches) => inner.TrainSample(batches);
        public IEnumerable<(TorchSharp.torch.Tensor X, TorchSharp.torch.Tensor Y)> Validation(int batches) => inner.Validation(batches);
        public System.Text.Json.Nodes.JsonNode SaveState() => inner.SaveState();
        public void LoadState(System.Text.Json.Nodes.JsonNode state) => inner.LoadState(state);
        public System.Text.Json.Nodes.JsonObject Describe() => inner.Describe();
        public System.Text.Json.Nodes.JsonNode? Tokenizer => inner.Tokenizer;
    }

    static RunResult TrainTiny(TrainingConfig t, string tokens, string dir, int? stopInStep = null)
    {
        using var file = TokenFileBatches.Open(tokens, t);
        IBatchSource data = stopInStep is { } s ? new StopInStep(file, s, t.GradAccumulation) : file;
        var trainer = new Trainer(TrainingFixtures.TinyModel, t, data, dir, c => new LMHarness.Model.CausalLM(c)) { Progress = null };
        if (data is StopInStep stop) stop.Trainer = trainer;
        return trainer.Train();
    }

    [Fact]
    public void An_interrupted_and_resumed_run_has_the_rows_of_the_uninterrupted_one_and_no_row_at_the_stop()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        // Step 5 is neither a log (every 4), an evaluation (every 6) nor a checkpoint step: the stop there is the case.
        var t = TrainingFixtures.TinyTraining with { LogInterval = 4, EvalInterval = 6, GradFlowInterval = 0 };
        TrainTiny(t, tokens, dir.File("whole"));
        var first = TrainTiny(t, tokens, dir.File("split"), stopInStep: 5);
        first.Interrupted.Should().BeTrue();
        first.Steps.Should().Be(5);
        new RunFolder(dir.File("split")).LatestCheckpoint.Should().EndWith(RunFolder.CheckpointFileName(5));
        MetricsRow.Read(dir.File("split/metrics.csv")).Select(r => r.Step).Should().Equal([0, 4], "the stop at step 5 checkpoints without a row");
        TrainTiny(t, tokens, dir.File("split")).Steps.Should().Be(12);

        // Every column but the clocks, throughput and memory (which differ between any two runs) is byte for byte the same.
        static IEnumerable<string> Deterministic(string run) => File.ReadAllLines(Path.Combine(run, RunFolder.MetricsFile))
            .Select(l => string.Join(',', l.Split(',').Take(8)));
        Deterministic(dir.File("split")).Should().Equal(Deterministic(dir.File("whole")));
        MetricsRow.Read(dir.File("split/metrics.csv")).Select(r => r.Step).Should().Equal([0, 4, 6, 8, 12]);
    }
}

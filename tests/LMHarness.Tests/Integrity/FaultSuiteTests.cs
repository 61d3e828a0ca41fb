using System.Diagnostics;
using System.Globalization;
using LMHarness.Data;
using LMHarness.IO;
using LMHarness.Model;
using LMHarness.Runs;
using LMHarness.Tests.Data;
using LMHarness.Training.Checkpoints;
using Xunit.Abstractions;

namespace LMHarness.Tests.Integrity;

/// <summary>
/// kill -9 at many moments of a real prepare and a real training run (tests/LMHarness.FaultChild, a separate process),
/// each followed by a resume: no file is ever corrupt, and the finished run is the uninterrupted one bit for bit.
/// </summary>
public class FaultSuiteTests(ITestOutputHelper output)
{
    static readonly TimeSpan ChildTimeout = TimeSpan.FromSeconds(120);

    /// <summary>A file's temps of the writing processes (<see cref="AtomicFile.TempPath"/>: <c>name.&lt;pid&gt;.tmp</c>).</summary>
    static string[] TempsOf(string path) =>
        Directory.Exists(Path.GetDirectoryName(path)) ? Directory.GetFiles(Path.GetDirectoryName(path)!, Path.GetFileName(path) + ".*.tmp") : [];

    static long Size(string file) { try { return new FileInfo(file).Length; } catch (IOException) { return 0; } }

    /// <summary>Kills <paramref name="child"/> as soon as <paramref name="moment"/> returns a file (polled every millisecond); the file, or null when the child finished first.</summary>
    static string? KillWhen(ChildProcess child, Func<string?> moment)
    {
        while (!child.HasExited)
        {
            if (moment() is { } file) return child.Kill() ? file : null;
            Thread.Sleep(1);
        }
        return null;
    }

    /// <summary>The columns a run computes (not its timings): what must come out the same after any number of kills.</summary>
    static string Computed(MetricsRow r) => string.Join(",", r.Step, r.Tokens, Bits(r.TrainLoss), Bits(r.ValLoss), Bits(r.TrainEvalLoss), Bits(r.ValBpb), Bits(r.Lr), Bits(r.GradNorm));

    static string Bits(double? x) => x is { } v ? BitConverter.DoubleToInt64Bits(v).ToString("x16", CultureInfo.InvariantCulture) : "-";

    /// <summary>
    /// What a kill may leave: every checkpoint verifies, config.json, result.json and gradflow.csv read, and every row
    /// of metrics.csv is the uninterrupted run's row of that step (a record cut by the kill is dropped by the reader).
    /// </summary>
    static void NothingCorrupt(RunFolder run, Dictionary<long, string> reference, string after)
    {
        foreach (var ckpt in run.Checkpoints) Checkpoint.Verify(ckpt).Should().Be(2, $"{ckpt} after {after}");
        if (run.HasConfig) run.ReadConfig();
        run.ReadResult();
        run.ReadGradFlow();
        if (run.HasMetrics)
            foreach (var row in run.ReadMetrics())
                Computed(row).Should().Be(reference[row.Step], $"row {row.Step} of metrics.csv after {after}");
    }

    [Fact]
    public void Sigkill_at_a_dozen_moments_of_prepare_and_training_then_resume_gives_the_uninterrupted_run_bit_for_bit()
    {
        var clock = Stopwatch.StartNew();
        using var dir = new TempDir();
        // Three copies of TinyShakespeare: with one thread the ids are written in two waves, so a kill can land between them.
        var text = dir.File("corpus.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Repeat(DataFixtures.TinyShakespeare, 3)));
        var kills = new List<string>();

        // Prepare: an uninterrupted one, then one killed once ids are in its temp file, then again.
        var reference = dir.File("reference.bin");
        using (var c = new ChildProcess("prepare", text, reference)) c.Finish(ChildTimeout);
        var tokens = dir.File("tokens.bin");
        for (var attempt = 0; kills.Count == 0; attempt++)
        {
            attempt.Should().BeLessThan(5, "a kill lands while the ids are written");
            using var c = new ChildProcess("prepare", text, tokens);
            if (KillWhen(c, () => TempsOf(tokens).FirstOrDefault(f => Size(f) > 0)) is not { } temp) { File.Delete(tokens); continue; }
            File.Exists(tokens).Should().BeFalse("a killed prepare leaves no token file under the final name");
            File.Exists(TokenFileInfo.SidecarPath(tokens)).Should().BeFalse();
            FluentActions.Invoking(() => TokenFile.Open(tokens)).Should().Throw<FileNotFoundException>().WithMessage("*leftover of a prepare that never finished*");
            kills.Add($"prepare, {new FileInfo(temp).Length:N0} bytes of ids written");
        }
        using (var c = new ChildProcess("prepare", text, tokens)) c.Finish(ChildTimeout);
        ContentHash.OfFile(tokens).Should().Be(ContentHash.OfFile(reference), "the prepare after the kill writes the uninterrupted one's bytes");
        TokenFile.Verify(tokens);
        TempsOf(tokens).Concat(TempsOf(TokenFileInfo.SidecarPath(tokens))).Should().BeEmpty("the successful prepare removed the killed one's temp");

        // Training: the uninterrupted run, with its pace.
        var whole = new RunFolder(dir.File("whole"));
        var pace = Stopwatch.StartNew();
        double firstStep;
        using (var c = new ChildProcess("train", tokens, whole.Path))
        {
            c.WaitForLine(l => l.StartsWith("step ", StringComparison.Ordinal), ChildTimeout);
            firstStep = pace.Elapsed.TotalSeconds;
            c.Finish(ChildTimeout);
        }
        var msPerStep = (pace.Elapsed.TotalSeconds - firstStep) * 1000 / 24;
        var reference0 = whole.ReadMetrics().ToDictionary(r => r.Step, Computed);
        var checkpointBytes = whole.Checkpoints.Min(Size);

        // The same run killed again and again, each time resumed by the next process. A run that completes before the
        // kills are done (a busy machine shifts the pace) is checked against the whole run and a new one starts.
        var run = new RunFolder(dir.File("run0"));
        var completed = 0;
        void Completed()
        {
            EndsAsTheWholeRun(run, whole);
            run = new RunFolder(dir.File($"run{++completed}"));
        }
        var rng = new Random(20261202);
        var checkpointKills = 0;
        for (var round = 0; kills.Count < 12 || checkpointKills == 0; round++)
        {
            round.Should().BeLessThan(40, "12 kills land within 40 processes");
            using var c = new ChildProcess("train", tokens, run.Path);
            string what;
            // Round 0 is a start-up kill of a fresh folder (the random branch): it may leave no metrics.csv at all.
            if (round > 0 && checkpointKills == 0 && round % 2 == 0)
            {
                // Aimed: the moment a file in checkpoints/ holds 1 MB of a checkpoint's ~5 MB, i.e. in the middle of the weights.
                var temp = KillWhen(c, () => Directory.Exists(run.CheckpointsPath)
                    ? Directory.GetFiles(run.CheckpointsPath).FirstOrDefault(f => Size(f) is >= 1_000_000 and var n && n < checkpointBytes) : null);
                if (temp is null) continue;
                what = $"while writing {Path.GetFileName(temp)} ({new FileInfo(temp).Length:N0} bytes in)";
                checkpointKills++;
            }
            else if (round % 3 == 0)
            {
                // Random from the process start: start-up, the lock, config.json and the metrics.csv rewrite of a resume.
                var delay = rng.NextDouble() * (firstStep * 1000 + 2 * msPerStep);
                Thread.Sleep(TimeSpan.FromMilliseconds(delay));
                if (!c.Kill()) { c.Finish(ChildTimeout); Completed(); continue; } // the run completed: nothing left to kill
                what = $"{delay:F0} ms after the process started";
            }
            else
            {
                // Random in training: a uniform moment within the next 3 steps (a checkpoint comes every 3).
                var line = c.WaitForLine(l => l.StartsWith("step ", StringComparison.Ordinal), ChildTimeout);
                if (line is null) { c.Finish(ChildTimeout); Completed(); continue; }
                var step = long.Parse(line.Split(' ', '/')[1], CultureInfo.InvariantCulture);
                var delay = rng.NextDouble() * 3 * msPerStep;
                Thread.Sleep(TimeSpan.FromMilliseconds(delay));
                if (!c.Kill()) { c.Finish(ChildTimeout); Completed(); continue; }
                what = $"{delay:F0} ms after step {step}";
            }
            // A fresh run (after one completed) killed at start-up has no metrics.csv yet.
            var last = run.HasMetrics && run.ReadMetrics() is { Count: > 0 } rows ? rows[^1].Step : -1;
            what += $" (metrics up to step {last}, checkpoints {string.Join(" ", run.Checkpoints.Select(Path.GetFileName))})";
            kills.Add(what);
            NothingCorrupt(run, reference0, $"kill {kills.Count}: {what}");
        }

        using (var c = new ChildProcess("train", tokens, run.Path)) c.Finish(ChildTimeout);
        foreach (var k in kills) output.WriteLine("killed " + k);
        output.WriteLine($"{kills.Count} kills ({checkpointKills} mid-checkpoint, 1 mid-prepare) over {completed + 1} run(s) in {clock.Elapsed.TotalSeconds:F0} s");
        kills.Count.Should().BeGreaterThanOrEqualTo(12);
        EndsAsTheWholeRun(run, whole);
    }

    /// <summary>A killed and resumed run ends as the uninterrupted one: complete, every metrics row and the weights bit for bit, no temp left.</summary>
    static void EndsAsTheWholeRun(RunFolder run, RunFolder whole)
    {
        run.ReadResult()!.Complete.Should().BeTrue();
        run.ReadMetrics().Select(Computed).Should().Equal(whole.ReadMetrics().Select(Computed), "every row, bit for bit");
        run.Checkpoints.Select(Path.GetFileName).Should().Equal(whole.Checkpoints.Select(Path.GetFileName));
        using var a = new CausalLM(run.ReadConfig().Model);
        using var b = new CausalLM(whole.ReadConfig().Model);
        Checkpoint.LoadModel(run.LatestCheckpoint!, a);
        Checkpoint.LoadModel(whole.LatestCheckpoint!, b);
        foreach (var ((n, p), (_, q)) in a.named_parameters().Zip(b.named_parameters()))
            p.eq(q).all().item<bool>().Should().BeTrue($"{n} bit for bit");
        Directory.GetFiles(run.Path, "*.tmp", SearchOption.AllDirectories).Should().BeEmpty("every temp a kill left was removed by a later write of its file");
    }
}

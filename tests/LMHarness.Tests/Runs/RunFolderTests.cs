using System.Diagnostics;
using LMHarness.IO;
using LMHarness.Runs;

namespace LMHarness.Tests.Runs;

public class RunFolderTests
{
    [Theory]
    [InlineData("runs/exp/mha/seed0", "mha", 0)]
    [InlineData("runs/exp/mha/seed12", "mha", 12)]
    [InlineData("runs/exp/mha/seed1-1a2b3c4d", "mha@1a2b3c4d", 1)]
    [InlineData("runs/train/first", "first", 0)]
    [InlineData("runs/lmh-test-abc", "lmh-test-abc", 0)]
    [InlineData("runs/seedling", "seedling", 0)]
    public void Folder_names_give_variant_and_seed(string path, string variant, int seed)
    {
        var run = new RunFolder(path);
        (run.Variant, run.Seed).Should().Be((variant, seed));
        new RunFolder(path, "named", 7).Label.Should().Be("named/seed7");
    }

    [Fact]
    public void A_second_writer_is_refused_naming_the_holder_and_the_lock_is_released_on_dispose()
    {
        using var dir = new TempDir();
        var run = new RunFolder(dir.File("run"));
        using (run.Lock())
        {
            var act = () => run.Lock();
            act.Should().Throw<IOException>()
                .WithMessage($"*{run.Path} is being written by process {Environment.ProcessId} (started *Z: *One process writes a run folder at a time*");
        }
        using var again = run.Lock(); // released by the first writer
    }

    [Fact]
    public void A_killed_holder_leaves_no_lock_behind()
    {
        using var dir = new TempDir();
        var run = new RunFolder(dir.File("run"));
        Directory.CreateDirectory(run.Path);
        // util-linux flock takes the same kernel lock (flock(2), LOCK_EX) .NET takes for FileShare.None; -o keeps it in
        // the flock process itself, not in the sleep it starts.
        using var holder = Process.Start(new ProcessStartInfo("flock", ["-o", run.File(RunLock.FileName), "sleep", "60"]) { UseShellExecute = false })!;
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(20))
        {
            try { using var probe = run.Lock(); Thread.Sleep(50); }
            catch (IOException) { break; } // the child holds it now
        }
        FluentActions.Invoking(run.Lock).Should().Throw<IOException>().WithMessage("*is being written by another writer*");
        holder.Kill(); // SIGKILL: no clean-up code runs in the holder
        holder.WaitForExit();
        // The kernel drops the lock with the holder's last descriptor. A child another test forks meanwhile holds copies
        // of this process's descriptors until it execs (the probes' included), so allow a moment; a lock left for good fails.
        var taken = Stopwatch.StartNew();
        RunLock? mine = null;
        while (mine is null)
        {
            try { mine = run.Lock(); }
            catch (IOException) when (taken.Elapsed < TimeSpan.FromSeconds(10)) { Thread.Sleep(50); }
        }
        mine.Dispose();
    }

    /// <summary>What Acquire checks after it locks: a handle whose file was unlinked meanwhile (by an abandoning writer)
    /// names no file, and holding its lock would make two writers once a third creates a new .lock.</summary>
    [Fact]
    public void A_lock_handle_whose_file_was_unlinked_is_told_apart_so_acquire_retries_on_the_named_file()
    {
        if (!OperatingSystem.IsLinux()) return; // told through /proc/self/fd; elsewhere the check says false
        using var dir = new TempDir();
        var path = dir.File(RunLock.FileName);
        using var handle = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        RunLock.IsUnlinked(handle).Should().BeFalse("the path names the locked file");
        File.Delete(path); // what Abandon does while it holds the lock
        RunLock.IsUnlinked(handle).Should().BeTrue("the locked inode has no name any more");
        File.WriteAllText(path, ""); // a third writer's new .lock
        RunLock.IsUnlinked(handle).Should().BeTrue("a new file under the name is not the locked one");
        using var fresh = RunLock.Acquire(dir.Path); // the path's file is free: Acquire takes it
        File.Exists(path).Should().BeTrue();
    }

    [Fact]
    public void Metrics_are_written_with_one_newline_convention_and_a_torn_last_line_is_dropped_on_read()
    {
        using var dir = new TempDir();
        var run = new RunFolder(dir.File("run"));
        Directory.CreateDirectory(run.Path);
        using (var w = run.OpenMetrics(null))
            foreach (var step in new[] { 0L, 10, 20 })
                w.Write(new MetricsRow(step, step * 8, 2.5, step == 20 ? 2.25 : null, null, null, 1e-3, 0.5, 100, 0.01, step, step, 0, 200));
        var written = File.ReadAllText(run.File(RunFolder.MetricsFile));
        written.Should().NotContain("\r");
        written.Split('\n').Should().HaveCount(5, "a header, three records, each ended by \\n");
        // A crash in the middle of a record: the reader keeps the complete rows only.
        File.AppendAllText(run.File(RunFolder.MetricsFile), "30,240,2.4");
        run.ReadMetrics().Select(r => r.Step).Should().Equal(0, 10, 20);
        // Resuming at step 10 keeps the rows up to it, byte for byte.
        using (run.OpenMetrics(10)) { }
        File.ReadAllText(run.File(RunFolder.MetricsFile)).Should().Be(string.Concat(written.Split('\n').Take(3).Select(l => l + "\n")));
        run.ReadMetrics().Select(r => r.Step).Should().Equal(0, 10);
    }

    [Fact]
    public void Atomic_writes_leave_no_temp_and_clean_up_temps_of_dead_writers()
    {
        using var dir = new TempDir();
        var path = dir.File("a/result.json");
        AtomicFile.WriteAllText(path, "one");
        var dead = $"{Path.GetFullPath(path)}.999999.tmp"; // no such process
        var legacy = $"{Path.GetFullPath(path)}.tmp";      // what earlier versions wrote
        var live = $"{Path.GetFullPath(path)}.1.tmp";      // pid 1 runs: its writer may still be busy
        foreach (var f in new[] { dead, legacy, live }) File.WriteAllText(f, "half a file");
        AtomicFile.WriteAllText(path, "two");
        File.ReadAllText(path).Should().Be("two");
        File.Exists(dead).Should().BeFalse("a temp of a writer that no longer runs is removed at the next commit");
        File.Exists(legacy).Should().BeFalse();
        File.Exists(live).Should().BeTrue("a running writer's temp is left alone");
        File.Delete(live);
        Directory.GetFiles(dir.File("a")).Select(Path.GetFileName).Should().Equal("result.json");
        var failing = () => AtomicFile.Write(path, _ => throw new IOException("disk full"));
        failing.Should().Throw<IOException>();
        File.ReadAllText(path).Should().Be("two", "a failed write leaves the old file");
        Directory.GetFiles(dir.File("a")).Should().HaveCount(1);
    }
}

using System.Diagnostics;
using LMHarness.IO;

namespace LMHarness.Tests.Integrity;

public class AtomicFileTests
{
    [Fact]
    public void A_write_that_fails_leaves_the_previous_file_whole_and_no_temp()
    {
        using var dir = new TempDir();
        var path = dir.File("a.json");
        AtomicFile.WriteAllText(path, "old");
        FluentActions.Invoking(() => AtomicFile.Write(path, s =>
        {
            s.Write("new, but never finished"u8);
            s.Flush();
            File.ReadAllText(path).Should().Be("old", "readers see the old file until the rename");
            throw new IOException("disk full");
        })).Should().Throw<IOException>().WithMessage("disk full");
        File.ReadAllText(path).Should().Be("old");
        Directory.GetFiles(dir.Path).Should().Equal(path);
    }

    [Fact]
    public void Commit_removes_temps_of_dead_writers_but_not_a_live_writers_or_unrelated_files()
    {
        using var dir = new TempDir();
        var path = dir.File("step_0000010.ckpt");
        using var gone = Process.Start(new ProcessStartInfo("true"))!;
        gone.WaitForExit();
        using var live = Process.Start(new ProcessStartInfo("sleep", "60"))!;
        try
        {
            string[] stale = [$"{path}.{gone.Id}.tmp"];
            string[] kept = [$"{path}.{live.Id}.tmp", $"{path}.notes.tmp", dir.File("step_0000020.ckpt.1.tmp")];
            foreach (var f in stale.Concat(kept)) File.WriteAllText(f, "x");
            AtomicFile.WriteAllText(path, "checkpoint");
            foreach (var f in stale) File.Exists(f).Should().BeFalse(f);
            foreach (var f in kept) File.Exists(f).Should().BeTrue(f);
        }
        finally { live.Kill(); live.WaitForExit(); }
    }
}

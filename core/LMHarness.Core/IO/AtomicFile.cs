using System.Text;

namespace LMHarness.IO;

/// <summary>
/// The one way LMHarness writes a file: under a temp name in the same folder (<see cref="TempPath"/>, carrying
/// the writer's process id, so two processes never share a temp file), flushed to disk, then renamed over the
/// final name (<see cref="Commit"/>). A rename within a folder is atomic on POSIX file systems, so a reader, or a
/// process killed mid-write, sees the old file or the new one, never half of one. Temps left by writers that were
/// killed are deleted at the next commit of the same file.
/// </summary>
public static class AtomicFile
{
    static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>Text as UTF-8 without a byte-order mark; returns <paramref name="path"/>.</summary>
    public static string WriteAllText(string path, string text) => Write(path, s => s.Write(Utf8.GetBytes(text)));

    /// <summary>Writes the file through <paramref name="write"/>, then renames it into place; returns <paramref name="path"/>.</summary>
    public static string Write(string path, Action<Stream> write)
    {
        var temp = TempPath(path);
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            Commit(temp, path);
        }
        catch
        {
            TryDelete(temp); // the final name is untouched either way
            throw;
        }
        return path;
    }

    /// <summary>This process's temp name for <paramref name="path"/> (its folder is created).</summary>
    public static string TempPath(string path)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        return $"{full}.{Environment.ProcessId}.tmp";
    }

    /// <summary>Renames a finished temp file (flushed and closed by its writer) over <paramref name="path"/>,
    /// and deletes temps of <paramref name="path"/> that dead processes left behind.</summary>
    public static void Commit(string temp, string path)
    {
        File.Move(temp, path, overwrite: true);
        foreach (var leftover in Leftovers(path)) TryDelete(leftover);
    }

    /// <summary>Temps of <paramref name="path"/> whose writer process no longer runs (and the pid-less temps of earlier versions).</summary>
    public static IReadOnlyList<string> Leftovers(string path)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir)) return [];
        var prefix = Path.GetFileName(full) + ".";
        // "name.tmp" without a pid is what earlier LMHarness versions wrote: no writer uses that name any more.
        return Directory.GetFiles(dir, prefix + "*tmp")
            .Where(f => Path.GetFileName(f) == prefix + "tmp"
                        || (f.EndsWith(".tmp", StringComparison.Ordinal) && int.TryParse(Path.GetFileName(f)[prefix.Length..^4], out var pid) && !IsRunning(pid)))
            .ToList();
    }

    static bool IsRunning(int pid)
    {
        if (pid == Environment.ProcessId) return true;
        try { using var p = System.Diagnostics.Process.GetProcessById(pid); return !p.HasExited; }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using LMHarness.IO;

namespace LMHarness.Runs;

/// <summary>
/// The one writer of a run folder. Holds an exclusive OS lock (flock, through .NET's FileShare.None) on
/// <c>.lock</c> for as long as it lives: the kernel drops it when the process ends, however it ends, so a kill -9
/// never leaves a folder locked. Who holds it (pid, start time, command line) is written beside it in
/// <c>.lock.owner</c>, so a second writer is refused with a message that names the holder.
/// </summary>
public sealed class RunLock : IDisposable
{
    public const string FileName = ".lock", OwnerFileName = ".lock.owner";
    readonly FileStream _handle;
    readonly string? _createdTop;
    readonly bool _createdFile;
    bool _released;

    RunLock(FileStream handle, string? createdTop, bool createdFile) => (_handle, _createdTop, _createdFile) = (handle, createdTop, createdFile);

    /// <summary>Takes the folder's lock (creating the folder); throws <see cref="IOException"/> naming the holder when another process or writer has it.</summary>
    public static RunLock Acquire(string folder)
    {
        var createdTop = TopMissing(Path.GetFullPath(folder));
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, FileName);
        bool createdFile;
        FileStream handle;
        for (var attempt = 1; ; attempt++)
        {
            createdFile = !File.Exists(path);
            try { handle = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException)
            {
                throw new IOException($"Run folder {Path.GetFullPath(folder)} is being written by {Holder(folder)}. " +
                                      "One process writes a run folder at a time: wait for it to finish, stop it, or choose another folder.");
            }
            // A refused run's Abandon unlinks .lock while it holds it. A writer that opened the file just before that,
            // and locks it just after the release, holds an inode no path names, while a third may create and lock a
            // new .lock: two writers. The handle tells (Linux): then let go and take the lock of the file the path names.
            if (!IsUnlinked(handle)) break;
            handle.Dispose();
            if (attempt == 3) throw new IOException($"Run folder {Path.GetFullPath(folder)}: its {FileName} was removed under this process three times in a row; another process is creating and abandoning it. Try again.");
        }
        AtomicFile.WriteAllText(Path.Combine(folder, OwnerFileName), new JsonObject
        {
            ["pid"] = Environment.ProcessId,
            ["started_utc"] = Process.GetCurrentProcess().StartTime.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ"),
            ["command"] = Environment.CommandLine,
        }.ToJsonString());
        return new RunLock(handle, createdTop, createdFile);
    }

    /// <summary>Whether the file <paramref name="handle"/> has open no longer has a name (Linux: /proc/self/fd/N reads
    /// "... (deleted)"); false where that cannot be told.</summary>
    internal static bool IsUnlinked(FileStream handle) =>
        OperatingSystem.IsLinux() && new FileInfo($"/proc/self/fd/{handle.SafeFileHandle.DangerousGetHandle()}").LinkTarget is { } target
        && target.EndsWith(" (deleted)", StringComparison.Ordinal);

    /// <summary>The outermost folder of <paramref name="folder"/>'s path that does not exist yet (null when it exists).</summary>
    static string? TopMissing(string folder)
    {
        string? top = null;
        for (var dir = folder; dir is not null && !Directory.Exists(dir); dir = Path.GetDirectoryName(dir)) top = dir;
        return top;
    }

    /// <summary>"process 1234 (started ..., command ...)" from the owner file, or a plain description when it is unreadable.</summary>
    public static string Holder(string folder)
    {
        try
        {
            var owner = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, OwnerFileName)))!;
            var pid = owner["pid"]!.GetValue<int>();
            return IsRunning(pid) ? $"process {pid} (started {owner["started_utc"]}: {owner["command"]})" : "another writer";
        }
        catch (Exception e) when (e is IOException or JsonException or NullReferenceException or InvalidOperationException or UnauthorizedAccessException)
        {
            return "another writer";
        }
    }

    static bool IsRunning(int pid)
    {
        try { using var p = Process.GetProcessById(pid); return !p.HasExited; }
        catch (ArgumentException) { return false; }
    }

    /// <summary>
    /// Releases the lock and removes what <see cref="Acquire"/> created: the <c>.lock</c> file, and the folder when it
    /// was new and is still empty (and the parents it created with it). For a run refused before it wrote anything, so that it leaves no trace.
    /// </summary>
    public void Abandon()
    {
        var file = _handle.Name;
        var folder = Path.GetDirectoryName(file)!;
        try
        {
            // On POSIX the lock file is unlinked while still locked: unlocked first, another writer could lock this inode
            // in between and then lose it to a third that creates a fresh .lock. (One that opened it just before the
            // unlink finds its handle nameless in Acquire and retries.) Windows refuses to delete a file open without
            // FileShare.Delete, and its lock is the open itself, so there it is closed first.
            if (_createdFile && !OperatingSystem.IsWindows()) File.Delete(file);
            Dispose();
            if (_createdFile && OperatingSystem.IsWindows()) File.Delete(file);
            if (_createdTop is null) return;
            // The run folder, then each parent Acquire created (runs/train/<preset>/seed0), while empty.
            for (var dir = folder; dir.Length >= _createdTop.Length && !Directory.EnumerateFileSystemEntries(dir).Any(); dir = Path.GetDirectoryName(dir)!)
                Directory.Delete(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // a trace left is harmless: the next run takes the lock
        finally { Dispose(); } // released whatever happened (a second call does nothing)
    }

    public void Dispose()
    {
        if (_released) return;
        _released = true;
        // The owner file goes first, while the lock is still held: nobody else can have written it meanwhile.
        try { File.Delete(Path.Combine(Path.GetDirectoryName(_handle.Name)!, OwnerFileName)); }
        catch (IOException) { }
        _handle.Dispose();
    }
}

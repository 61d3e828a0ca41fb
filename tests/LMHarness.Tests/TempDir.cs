namespace LMHarness.Tests;

/// <summary>A fresh temp folder for one test, deleted on dispose.</summary>
sealed class TempDir : IDisposable
{
    public string Path { get; }
    public TempDir() : this(System.IO.Path.GetTempPath()) { }
    TempDir(string root) => Directory.CreateDirectory(Path = System.IO.Path.Combine(root, "lmh-test-" + Guid.NewGuid().ToString("N")[..10]));
    /// <summary>A folder in RAM (/dev/shm) where there is one: rewriting a small file there takes ~30 us, on a busy disk ~4 ms.</summary>
    public static TempDir InMemory() => new(Directory.Exists("/dev/shm") ? "/dev/shm" : System.IO.Path.GetTempPath());
    /// <summary>A path inside the folder (not created).</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { Directory.Delete(Path, true); } catch (IOException) { } }
}

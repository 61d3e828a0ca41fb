namespace LMHarness.Data;

/// <summary>Counters a source fills while it is read: what was skipped or repaired, and warnings naming the files.</summary>
public sealed class SourceStats
{
    readonly List<string> _warnings = [];
    readonly Dictionary<string, long> _folders = new(StringComparer.Ordinal);

    /// <summary>Counts without printing (a repeated pass of a source already warned once).</summary>
    public bool Quiet { get; init; }
    public long Documents { get; private set; }
    public int SkippedBinaryFiles { get; private set; }
    public int InvalidUtf8Files { get; private set; }
    public long ReplacedBytes { get; private set; }
    public IReadOnlyList<string> Warnings => _warnings;
    public IReadOnlyDictionary<string, long> Folders => _folders;

    public void Document(string folder)
    {
        Documents++;
        if (folder.Length > 0) _folders[folder] = _folders.GetValueOrDefault(folder) + 1;
    }

    public void Warn(string message)
    {
        // Bounded: a corpus of a million broken files must not grow the sidecar without limit.
        if (_warnings.Count < 100) _warnings.Add(message);
        else if (_warnings.Count == 100) _warnings.Add("... further warnings omitted (see the counts)");
        if (!Quiet) Console.Error.WriteLine("warning: " + message);
    }

    public void BinaryFile(string path)
    {
        SkippedBinaryFiles++;
        Warn($"{path} looks binary (NUL bytes in its first 8 KB): skipped.");
    }

    public void InvalidUtf8(string path, long replaced)
    {
        InvalidUtf8Files++;
        ReplacedBytes += replaced;
        Warn($"{path} is not valid UTF-8: {replaced} invalid byte sequence(s) replaced by U+FFFD.");
    }
}

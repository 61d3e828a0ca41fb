namespace LMHarness.Data;

/// <summary>
/// Somewhere documents come from (a text file, a directory tree, JSONL, Parquet, the .NET SDK docs). A source
/// streams its documents as <see cref="TextChunk"/>s in a fixed order, so reading it twice gives the same text;
/// it never holds the whole corpus in memory.
/// </summary>
public abstract class CorpusSource
{
    /// <summary>Target chunk size in bytes for sources that read big files.</summary>
    public const int DefaultChunkBytes = 1 << 20;

    public abstract string Name { get; }
    /// <summary>text, directory, jsonl, parquet, dotnet_docs.</summary>
    public abstract string Kind { get; }
    /// <summary>The file or folder read.</summary>
    public abstract string Path { get; }
    /// <summary>Total bytes to read when known (for progress), else 0.</summary>
    public virtual long SizeBytes => 0;

    /// <summary>Streams the documents, recording skipped/repaired input in <paramref name="stats"/>.</summary>
    public abstract IEnumerable<TextChunk> Read(SourceStats stats);

    /// <summary>Throws a clear error when <paramref name="path"/> is not an existing file.</summary>
    protected static string ExistingFile(string path, string what)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full))
            throw new FileNotFoundException(Directory.Exists(full)
                ? $"{what} {full} is a directory, not a file: use a directory source for it."
                : $"{what} {full} does not exist: check the path.", full);
        return full;
    }

    public override string ToString() => $"{Kind} {Path}";
}

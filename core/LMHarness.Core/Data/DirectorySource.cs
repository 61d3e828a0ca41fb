namespace LMHarness.Data;

/// <summary>
/// Every file under a folder, recursively, one document per file, in ordinal path order (reproducible).
/// Hidden files and folders (name starting with '.') are skipped, as are binary files (counted). Each document
/// carries its folder relative to the root as metadata; the sidecar records documents per folder.
/// </summary>
public sealed class DirectorySource : CorpusSource
{
    public DirectorySource(string path) : this(path, DefaultChunkBytes) { }

    public DirectorySource(string path, int chunkBytes)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (!Directory.Exists(full))
            throw new DirectoryNotFoundException(File.Exists(full)
                ? $"Directory source {full} is a file: use a text file source for it."
                : $"Directory source {full} does not exist: check the path.");
        Path = full;
        ChunkBytes = chunkBytes;
    }

    public override string Name => new DirectoryInfo(Path).Name;
    public override string Kind => "directory";
    public override string Path { get; }
    public int ChunkBytes { get; }
    public override long SizeBytes => Files().Sum(f => new FileInfo(f).Length);

    /// <summary>The files read, in order (hidden files and anything under hidden folders left out).</summary>
    public IReadOnlyList<string> Files()
    {
        var files = new List<string>();
        void Walk(string dir)
        {
            foreach (var f in Directory.GetFiles(dir).Order(StringComparer.Ordinal))
                if (!System.IO.Path.GetFileName(f).StartsWith('.')) files.Add(f);
            foreach (var d in Directory.GetDirectories(dir).Order(StringComparer.Ordinal))
                if (!System.IO.Path.GetFileName(d).StartsWith('.') && !new DirectoryInfo(d).Attributes.HasFlag(FileAttributes.ReparsePoint)) Walk(d);
        }
        Walk(Path);
        return files;
    }

    public override IEnumerable<TextChunk> Read(SourceStats stats)
    {
        foreach (var file in Files())
        {
            if (Utf8Chunks.LooksBinary(file)) { stats.BinaryFile(file); continue; }
            var folder = System.IO.Path.GetRelativePath(Path, System.IO.Path.GetDirectoryName(file)!).Replace('\\', '/');
            bool first = true;
            foreach (var text in Utf8Chunks.Read(file, ChunkBytes, stats))
            {
                if (first) stats.Document(folder);
                yield return new TextChunk(text, first, folder);
                first = false;
            }
        }
    }
}

namespace LMHarness.Data;

/// <summary>One UTF-8 text file as one document, streamed in chunks (any size).</summary>
public sealed class TextFileSource : CorpusSource
{
    public TextFileSource(string path) : this(path, DefaultChunkBytes) { }

    public TextFileSource(string path, int chunkBytes)
    {
        Path = ExistingFile(path, "Text file");
        ChunkBytes = chunkBytes;
    }

    public override string Name => System.IO.Path.GetFileName(Path);
    public override string Kind => "text";
    public override string Path { get; }
    public int ChunkBytes { get; }
    public override long SizeBytes => new FileInfo(Path).Length;

    public override IEnumerable<TextChunk> Read(SourceStats stats)
    {
        if (Utf8Chunks.LooksBinary(Path)) { stats.BinaryFile(Path); yield break; }
        bool first = true;
        foreach (var text in Utf8Chunks.Read(Path, ChunkBytes, stats))
        {
            if (first) stats.Document("");
            yield return new TextChunk(text, first, "");
            first = false;
        }
    }
}

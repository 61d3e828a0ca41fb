using System.Text.Json;

namespace LMHarness.Data;

/// <summary>
/// JSON Lines: one JSON object per line, the document being the string in field <see cref="Field"/> (e.g. "text",
/// as in most Hugging Face dumps). Blank lines are ignored; a line whose field is missing or null is skipped with a
/// warning; a line that is not JSON, or longer than <see cref="MaxLineChars"/>, is an error naming the file and line
/// (the bound keeps a file without newlines from being read whole into one string).
/// </summary>
public sealed class JsonlSource : CorpusSource
{
    /// <summary>The longest line read by default: 32 M characters, some 64 MB as a string (a long book is 3 M).</summary>
    public const int DefaultMaxLineChars = 1 << 25;

    public JsonlSource(string path, string field) : this(path, field, DefaultMaxLineChars) { }

    /// <summary>A JSONL source whose lines may hold at most <paramref name="maxLineChars"/> characters.</summary>
    public JsonlSource(string path, string field, int maxLineChars)
    {
        Path = ExistingFile(path, "JSONL file");
        Field = field;
        if (maxLineChars <= 0) throw new ArgumentOutOfRangeException(nameof(maxLineChars), $"the longest line must be > 0 characters (got {maxLineChars})");
        MaxLineChars = maxLineChars;
    }

    public override string Name => System.IO.Path.GetFileName(Path);
    public override string Kind => "jsonl";
    public override string Path { get; }
    public string Field { get; }
    public int MaxLineChars { get; }
    public override long SizeBytes => new FileInfo(Path).Length;

    public override IEnumerable<TextChunk> Read(SourceStats stats)
    {
        if (Utf8Chunks.LooksBinary(Path)) { stats.BinaryFile(Path); yield break; }
        int lineNo = 0, missing = 0;
        var (utf8, invalid) = Utf8Chunks.CountingUtf8();
        using var reader = new StreamReader(Path, utf8, detectEncodingFromByteOrderMarks: true);
        var lines = BoundedLines.Read(reader, MaxLineChars, n => new InvalidDataException(
            $"{Path} line {n} is longer than {MaxLineChars:N0} characters, so it is not read (one line is one document): split it, or check that this is a JSON Lines file."));
        foreach (var line in lines)
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string? text;
            try
            {
                using var doc = JsonDocument.Parse(line);
                text = doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty(Field, out var v) && v.ValueKind == JsonValueKind.String
                    ? v.GetString() : null;
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{Path} line {lineNo} is not valid JSON ({e.Message}): fix or remove that line.", e);
            }
            if (text is null) { missing++; continue; }
            if (text.Length == 0) continue;
            stats.Document("");
            yield return new TextChunk(text, true, "");
        }
        if (invalid.Count > 0) stats.InvalidUtf8(Path, invalid.Count);
        if (missing > 0) stats.Warn($"{Path}: {missing} line(s) have no string field \"{Field}\": skipped.");
    }
}

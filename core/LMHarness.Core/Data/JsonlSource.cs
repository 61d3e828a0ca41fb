using System.Text.Json;

namespace LMHarness.Data;

/// <summary>
/// JSON Lines: one JSON object per line, the document being the string in field <see cref="Field"/> (e.g. "text",
/// as in most Hugging Face dumps). Blank lines are ignored; a line whose field is missing or null is skipped with a
/// warning; a line that is not JSON is an error naming the file and line.
/// </summary>
public sealed class JsonlSource : CorpusSource
{
    public JsonlSource(string path, string field)
    {
        Path = ExistingFile(path, "JSONL file");
        Field = field;
    }

    public override string Name => System.IO.Path.GetFileName(Path);
    public override string Kind => "jsonl";
    public override string Path { get; }
    public string Field { get; }
    public override long SizeBytes => new FileInfo(Path).Length;

    public override IEnumerable<TextChunk> Read(SourceStats stats)
    {
        if (Utf8Chunks.LooksBinary(Path)) { stats.BinaryFile(Path); yield break; }
        int lineNo = 0, missing = 0;
        var (utf8, invalid) = Utf8Chunks.CountingUtf8();
        using var reader = new StreamReader(Path, utf8, detectEncodingFromByteOrderMarks: true);
        string? line;
        while ((line = reader.ReadLine()) is not null)
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

using Parquet;

using LMHarness.Data;

namespace LMHarness.Corpora;

/// <summary>
/// A Parquet file (the format Hugging Face datasets ship in) read row group by row group with Parquet.Net;
/// each non-empty value of the string column <see cref="Column"/> is one document. Only one row group is in
/// memory at a time, and each is checked before it is read: its row count and size come from the file's footer, so a
/// damaged or hostile footer must not decide an allocation (<see cref="EnsureReadable"/>).
/// </summary>
public sealed class ParquetSource : CorpusSource
{
    public ParquetSource(string path, string column)
    {
        Path = ExistingFile(path, "Parquet file");
        Column = column;
    }

    public override string Name => System.IO.Path.GetFileName(Path);
    public override string Kind => "parquet";
    public override string Path { get; }
    public string Column { get; }
    public override long SizeBytes => new FileInfo(Path).Length;

    public override IEnumerable<TextChunk> Read(SourceStats stats)
    {
        ParquetReader reader;
        try { reader = ParquetReader.CreateAsync(Path).GetAwaiter().GetResult(); }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException or InvalidOperationException)
        {
            throw new InvalidDataException($"{Path} is not a readable Parquet file ({e.Message}).", e);
        }
        try
        {
            var fields = reader.Schema.GetDataFields();
            var field = fields.FirstOrDefault(f => f.Name == Column)
                ?? throw new InvalidDataException($"{Path} has no column \"{Column}\"; its columns are: {string.Join(", ", fields.Select(f => f.Name))}.");
            if (field.ClrType != typeof(string) && field.ClrType != typeof(ReadOnlyMemory<char>))
                throw new InvalidDataException($"Column \"{Column}\" of {Path} holds {field.ClrType.Name}, not text: name the text column.");
            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                string?[] values;
                using (var rg = reader.OpenRowGroupReader(g))
                {
                    EnsureReadable(g, rg.RowCount, rg.GetMetadata(field)?.MetaData?.TotalUncompressedSize ?? 0);
                    values = new string?[rg.RowCount];
                    rg.ReadAsync(field, values.AsMemory()).GetAwaiter().GetResult();
                }
                foreach (var text in values)
                {
                    if (string.IsNullOrEmpty(text)) continue;
                    stats.Document("");
                    yield return new TextChunk(text, true, "");
                }
            }
        }
        finally
        {
            reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>
    /// Refuses row group <paramref name="group"/> when its declared <paramref name="rows"/> do not fit one array, or when
    /// reading it would take more than this process may still allocate (<see cref="MachineMemory"/>): a reference and a
    /// string object (~32 bytes) per row, the text as UTF-16 (at most twice the column's
    /// <paramref name="uncompressedBytes"/>) and the decompressed pages themselves.
    /// </summary>
    void EnsureReadable(int group, long rows, long uncompressedBytes)
    {
        if (rows < 0 || rows > Array.MaxLength)
            throw new InvalidDataException($"{Path}: row group {group} declares {rows:N0} rows, more than one read can hold (at most {Array.MaxLength:N0}): the file's footer is damaged, or rewrite the file with smaller row groups.");
        MachineMemory.Available().Ensure(32.0 * rows + 3.0 * Math.Max(0, uncompressedBytes),
            $"Reading row group {group} of {Path}", $"{rows:N0} rows and {MachineMemory.Text(uncompressedBytes)} of uncompressed pages in column \"{Column}\"",
            "rewrite the file with smaller row groups (e.g. pyarrow's row_group_size), or free memory first");
    }
}

using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using LMHarness.Tokenizers;

namespace LMHarness.Data;

/// <summary>Where some of a token file's tokens came from, and what was wrong with that source.</summary>
/// <param name="Name">Display name (file name, directory, "default", "tinyshakespeare").</param>
/// <param name="Kind">text, directory, jsonl, parquet, dotnet_docs.</param>
/// <param name="Path">File or folder read.</param>
/// <param name="Documents">Documents taken from the source (counting repeats).</param>
/// <param name="Tokens">Tokens written from the source, including end-of-text separators.</param>
/// <param name="Passes">How many times the source was read from the start (more than 1 when a budget repeated it).</param>
/// <param name="SkippedBinaryFiles">Files skipped because they looked binary (NUL bytes in the first 8 KB).</param>
/// <param name="InvalidUtf8Files">Files holding bytes that are not UTF-8.</param>
/// <param name="ReplacedBytes">Invalid UTF-8 sequences replaced by U+FFFD.</param>
/// <param name="Folders">Documents per folder (relative to a directory source's root; "." for the root itself).</param>
public sealed record SourceInfo(
    string Name, string Kind, string Path, long Documents, long Tokens, int Passes,
    int SkippedBinaryFiles, int InvalidUtf8Files, long ReplacedBytes, IReadOnlyDictionary<string, long>? Folders)
{
    /// <summary>Warnings naming the files concerned (binary files skipped, invalid UTF-8 replaced, records without text).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
}

/// <summary>
/// The JSON sidecar of a token file (<c>name.bin.json</c> beside <c>name.bin</c>): which tokenizer made the ids,
/// how they are stored, how many there are and where the train/val split falls (train = ids [0, TrainTokens),
/// val = ids [TrainTokens, TokenCount)). It is written last, so its presence marks a complete file. Format 2 adds
/// <see cref="Sha256"/>, the checksum of the ids file; format 1 (no checksum) still opens. Sidecars written since
/// also carry <see cref="BlockCrc32c"/>, a checksum per block of <see cref="BlockBytes"/> bytes that reads verify
/// (<see cref="TokenBlocks"/>); a sidecar without them opens as before (an older reader ignores them).
/// </summary>
public sealed partial record TokenFileInfo
{
    public const int CurrentFormatVersion = 2;
    /// <summary>Sidecar formats this version reads: 1 (no checksum) and 2.</summary>
    public static bool IsReadable(int formatVersion) => formatVersion is 1 or 2;
    public int FormatVersion { get; init; } = CurrentFormatVersion;
    /// <summary>
    /// SHA-256 of the whole ids file as lowercase hex (what <c>sha256sum name.bin</c> prints); null in format 1.
    /// Checked by <see cref="TokenFile.Verify()"/>, right after prepare and on demand, not at every open.
    /// </summary>
    public string? Sha256 { get; init; }
    public required TokenizerIdentity Tokenizer { get; init; }
    /// <summary>"uint16" when the vocab fits in 16 bits (&lt;= 65536 ids), else "uint32"; little endian.</summary>
    public required string Dtype { get; init; }
    public required long TokenCount { get; init; }
    public required long TrainTokens { get; init; }
    public required long ValTokens { get; init; }
    public required long Documents { get; init; }
    public IReadOnlyList<SourceInfo> Sources { get; init; } = [];
    /// <summary>Bytes per checksummed block (<see cref="TokenBlocks.DefaultBlockBytes"/>); null in sidecars without block sums.</summary>
    public int? BlockBytes { get; init; }
    /// <summary>CRC-32C of each block of the ids file, in order (<see cref="TokenBlocks"/>); null in sidecars without them.</summary>
    public IReadOnlyList<uint>? BlockCrc32c { get; init; }

    /// <summary>Whether the sidecar carries per-block checksums for reads to verify.</summary>
    [JsonIgnore] public bool HasBlockSums => BlockBytes is > 0 && BlockCrc32c is not null;

    /// <summary>Bytes per stored id.</summary>
    public int BytesPerToken => Dtype == "uint16" ? 2 : 4;

    /// <summary>The dtype a vocab of <paramref name="vocabSize"/> ids needs.</summary>
    public static string DtypeFor(int vocabSize) => vocabSize <= 65536 ? "uint16" : "uint32";

    /// <summary>Sidecar path of a token file.</summary>
    public static string SidecarPath(string tokenFilePath) => tokenFilePath + ".json";

    /// <summary>
    /// The sidecar text: the fields without the block sums, then the block sums appended after the last field.
    /// Appending (never re-serializing) is what lets an older sidecar gain block sums with its text otherwise
    /// unchanged, and so keep the file's identity (<see cref="WithoutBlockSums"/>), which runs trained on it record.
    /// </summary>
    public string ToJson()
    {
        var text = JsonSerializer.Serialize(this with { BlockBytes = null, BlockCrc32c = null }, TokenizerIdentity.Json);
        return HasBlockSums ? WithBlockSums(text, BlockBytes!.Value, BlockCrc32c!) : text;
    }

    /// <summary>Sidecar <paramref name="json"/> with the block sums added after its last field (its other bytes unchanged).</summary>
    public static string WithBlockSums(string json, int blockBytes, IReadOnlyList<uint> sums)
    {
        int close = json.LastIndexOf('}');
        if (close < 0) throw new InvalidDataException("A token-file sidecar is a JSON object; this text has no closing brace.");
        return $"{json[..close]},\"block_bytes\":{blockBytes},\"block_crc32c\":[{string.Join(",", sums)}]}}{json[(close + 1)..]}";
    }

    /// <summary>Sidecar <paramref name="json"/> without the block sums <see cref="WithBlockSums"/> appended: the text that identifies the file.</summary>
    public static string WithoutBlockSums(string json)
    {
        var m = BlockSumsSuffix().Match(json);
        return m.Success ? json[..m.Index] + "}" + m.Groups["after"].Value : json;
    }

    [GeneratedRegex(@",""block_bytes"":\d+,""block_crc32c"":\[[\d,]*\]\}(?<after>\s*)\z")]
    private static partial Regex BlockSumsSuffix();

    public static TokenFileInfo FromJson(string json, string what)
    {
        try
        {
            return JsonSerializer.Deserialize<TokenFileInfo>(json, TokenizerIdentity.Json)
                ?? throw new InvalidDataException($"{what} is empty (null): prepare the token file again.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{what} is not a valid token-file sidecar ({e.Message}): prepare the token file again.", e);
        }
    }
}

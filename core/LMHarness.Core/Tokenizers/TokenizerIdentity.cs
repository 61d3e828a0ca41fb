using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace LMHarness.Tokenizers;

/// <summary>
/// Everything needed to rebuild a tokenizer and to tell two apart: the kind, the vocab size and, for
/// <see cref="TokenizerKind.Char"/>, the char table (id i = CharTable[i]); for <see cref="TokenizerKind.HfBpe"/>, the
/// folder holding tokenizer.json (<see cref="Source"/>) and the SHA-256 of its tokenizer files (<see cref="Sha256"/>). Stored in every token-file sidecar and
/// checkpoint; ids made by one tokenizer are meaningless under another, so a mismatch is refused
/// (<see cref="EnsureMatches(TokenizerIdentity, string)"/>).
/// </summary>
public sealed record TokenizerIdentity(TokenizerKind Kind, int VocabSize, string? CharTable = null, string? Source = null, string? Sha256 = null)
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { EnumNames.Converter() },
    };

    public static TokenizerIdentity Gpt2 { get; } = new(TokenizerKind.Gpt2, 50257);
    public static TokenizerIdentity Bytes { get; } = new(TokenizerKind.Bytes, 256);

    /// <summary>Same kind, vocab size, char table and tokenizer-file hash (the folder may move; its content may not change).</summary>
    public bool Matches(TokenizerIdentity other) =>
        Kind == other.Kind && VocabSize == other.VocabSize && string.Equals(CharTable, other.CharTable, StringComparison.Ordinal)
        && string.Equals(Sha256, other.Sha256, StringComparison.Ordinal);

    /// <summary>Throws when <paramref name="other"/> differs from this identity.</summary>
    public void EnsureMatches(TokenizerIdentity other) => EnsureMatches(other, "the data");

    /// <summary>Throws one error naming <paramref name="what"/> (e.g. the token file) and both tokenizers when they differ.</summary>
    public void EnsureMatches(TokenizerIdentity other, string what)
    {
        if (Matches(other)) return;
        throw new InvalidDataException(
            $"Tokenizer mismatch: {what} was tokenized with {Describe()} but {other.Describe()} was given. " +
            "Ids from one tokenizer mean nothing to another: prepare the data again with the same tokenizer, or use the tokenizer stored with it.");
    }

    /// <summary>Short human description, e.g. "gpt2 (50257 ids)" or "char (65 ids, table 3f2a9c1b)".</summary>
    public string Describe() => Sha256 is not null
        ? $"hf_bpe ({VocabSize} ids, {Source}, sha256 {Sha256[..Math.Min(8, Sha256.Length)]})"
        : CharTable is null
        ? $"{JsonNamingPolicy.SnakeCaseLower.ConvertName(Kind.ToString())} ({VocabSize} ids)"
        : $"char ({VocabSize} ids, table {Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(CharTable)))[..8].ToLowerInvariant()})";

    public override string ToString() => Describe();

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static TokenizerIdentity FromJson(string json) =>
        JsonSerializer.Deserialize<TokenizerIdentity>(json, Json) ?? throw new InvalidDataException("tokenizer identity JSON is empty (null)");
}

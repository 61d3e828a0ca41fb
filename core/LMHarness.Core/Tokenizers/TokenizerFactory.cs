namespace LMHarness.Tokenizers;

/// <summary>
/// Builds tokenizers by identity (<see cref="Create"/>, as stored in token-file sidecars and checkpoints) or by
/// name (<see cref="ByName"/>).
/// </summary>
public static class TokenizerFactory
{
    /// <summary>Names accepted by <see cref="ByName"/> (char needs a corpus, so it is built with <see cref="CharTokenizer"/>).</summary>
    public static IReadOnlyList<string> Names { get; } = ["gpt2", "cl100k_base", "o200k_base", "bytes", "char"];

    /// <summary>Rebuilds the tokenizer an identity describes (as stored in a token-file sidecar or checkpoint).</summary>
    public static ITokenizer Create(TokenizerIdentity identity)
    {
        ITokenizer tokenizer = identity.Kind switch
        {
            TokenizerKind.Gpt2 or TokenizerKind.Cl100kBase or TokenizerKind.O200kBase => new TiktokenBpe(identity.Kind),
            TokenizerKind.Bytes => new ByteTokenizer(),
            TokenizerKind.Char => new CharTokenizer(identity.CharTable
                ?? throw new InvalidDataException("A char tokenizer identity must carry its char_table; this one has none.")),
            TokenizerKind.HfBpe => HfBpeFrom(identity),
            _ => throw new InvalidDataException($"Unknown tokenizer kind {identity.Kind}."),
        };
        identity.EnsureMatches(tokenizer.Identity, "the stored identity");
        return tokenizer;
    }

    static HfBpeTokenizer HfBpeFrom(TokenizerIdentity identity)
    {
        var dir = identity.Source ?? throw new InvalidDataException("An hf_bpe tokenizer identity must carry its source folder; this one has none.");
        if (!HfBpeTokenizer.HasTokenizer(dir))
            throw new FileNotFoundException($"The hf_bpe tokenizer's folder {dir} no longer holds {HfBpeTokenizer.TokenizerJson}: restore the checkpoint folder there (its tokenizer files must be unchanged).", dir);
        return HfBpeTokenizer.Load(dir);
    }

    /// <summary>A fixed-vocabulary tokenizer by name (gpt2, cl100k_base, o200k_base or bytes), or an HF folder holding tokenizer.json.</summary>
    public static ITokenizer ByName(string name) => Directory.Exists(name) && HfBpeTokenizer.HasTokenizer(name) ? HfBpeTokenizer.Load(name) : name.ToLowerInvariant() switch
    {
        "gpt2" => new TiktokenBpe(TokenizerKind.Gpt2),
        "cl100k_base" or "cl100k" => new TiktokenBpe(TokenizerKind.Cl100kBase),
        "o200k_base" or "o200k" => new TiktokenBpe(TokenizerKind.O200kBase),
        "bytes" or "byte" => new ByteTokenizer(),
        "char" => throw new ArgumentException("The char tokenizer is built from a corpus: use CharTokenizer.FromDocuments(...) (Prepare does this for you)."),
        _ => throw new ArgumentException($"Unknown tokenizer '{name}': use one of {string.Join(", ", Names)}, or an HF checkpoint folder holding tokenizer.json."),
    };
}

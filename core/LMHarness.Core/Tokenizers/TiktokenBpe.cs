using System.Runtime.InteropServices;
using Microsoft.ML.Tokenizers;

namespace LMHarness.Tokenizers;

/// <summary>
/// OpenAI byte-level BPE (Sennrich et al. 2016; GPT-2, Radford et al. 2019) through Microsoft.ML.Tokenizers'
/// <see cref="TiktokenTokenizer"/>, loaded offline from the Microsoft.ML.Tokenizers.Data.* packages.
/// GPT-2 takes a fast path that gives the same ids: <see cref="Gpt2PreTokenizer"/> splits the text and a
/// per-thread piece -> ids cache answers repeated pieces (most words of prose), so BPE merges run once per
/// distinct piece. Literal "&lt;|endoftext|&gt;" in the text is ordinary text on that path (as tiktoken's
/// encode_ordinary); only the separator written between documents is <see cref="EndOfText"/>.
/// </summary>
public sealed class TiktokenBpe : ITokenizer
{
    // Bounded so a corpus with millions of distinct pieces cannot grow the cache without limit.
    const int MaxCachedPieces = 1 << 19;
    readonly TiktokenTokenizer _inner;
    readonly bool _fastPath;
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
        _fastPath = kind == TokenizerKind.Gpt2;
        Identity = new TokenizerIdentity(kind, vocab);
        EndOfText = eot;
    }

    public TokenizerIdentity Identity { get; }
    public int VocabSize => Identity.VocabSize;
    public int EndOfText { get; }

    /// <summary>The library tokenizer itself (no piece cache): the reference the fast path is measured against.</summary>
    public TiktokenTokenizer Inner => _inner;

    public int[] Encode(string text)
    {
        if (!_fastPath) return [.. _inner.EncodeToIds(text)];
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
                var s = piece.ToString();
                pieceIds = [.. _inner.EncodeToIds(s, considerPreTokenization: false, considerNormalization: false)];
                if (cache.Count >= MaxCachedPieces) cache.Clear();
                cache[s] = pieceIds;
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

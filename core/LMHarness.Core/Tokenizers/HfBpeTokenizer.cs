using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

using LMHarness.IO;

namespace LMHarness.Tokenizers;

/// <summary>
/// The byte-level BPE tokenizer shipped with a Hugging Face checkpoint (Sennrich et al. 2016, byte-level as in GPT-2,
/// Radford et al. 2019): <c>tokenizer.json</c> with <c>model.type == "BPE"</c>, or <c>vocab.json</c> + <c>merges.txt</c>.
/// Text is split on special tokens (<c>added_tokens</c>, e.g. &lt;|endoftext|&gt;, &lt;|im_start|&gt;), then by the
/// pre-tokenizer (optional per-digit split, then the GPT-2 pattern of <see cref="Gpt2PreTokenizer"/>); each piece's
/// UTF-8 bytes become GPT-2's printable byte symbols and the adjacent pair with the lowest merge rank is merged
/// until none is left; symbols are then looked up in the vocab. Written here (reusing <see cref="Gpt2PreTokenizer"/>)
/// rather than through Microsoft.ML.Tokenizers' CodeGenTokenizer so that tokenizer.json's added_tokens, its
/// Digits + ByteLevel pre-tokenizer sequence and both merge formats are read exactly as written; a GPT-2
/// tokenizer.json rebuilt from the library's tiktoken ranks gives the library's ids (tested).
/// The identity records the folder and the SHA-256 of the tokenizer files, so a changed tokenizer is refused.
/// </summary>
public sealed class HfBpeTokenizer : ITokenizer
{
    public const string TokenizerJson = "tokenizer.json";
    public const string VocabJson = "vocab.json";
    public const string MergesTxt = "merges.txt";
    const int MaxCachedPieces = 1 << 18;

    readonly Dictionary<string, int> _vocab;
    readonly string[] _idToToken;
    readonly Dictionary<(string, string), int> _mergeRank;
    readonly (string Content, int Id)[] _special; // longest first, so "<|a|>b" never shadows a longer token
    readonly HashSet<int> _specialIds;
    readonly HashSet<char> _specialFirst; // first chars of special tokens: most positions are skipped with one lookup
    readonly bool _splitDigits, _addPrefixSpace;
    readonly ThreadLocal<Dictionary<string, int[]>> _cache = new(() => new Dictionary<string, int[]>(1 << 12));

    HfBpeTokenizer(Dictionary<string, int> vocab, List<(string, string)> merges, List<(string, int)> special,
        bool splitDigits, bool addPrefixSpace, string? eosToken, int? eosId, TokenizerIdentity identity)
    {
        _vocab = vocab;
        foreach (var (content, id) in special) _vocab.TryAdd(content, id);
        int size = _vocab.Values.Max() + 1;
        _idToToken = new string[size];
        foreach (var (tok, id) in _vocab)
        {
            if (id < 0) throw new InvalidDataException($"{identity.Source}: token '{tok}' has negative id {id}.");
            _idToToken[id] ??= tok;
        }
        _mergeRank = new Dictionary<(string, string), int>(merges.Count);
        for (int r = 0; r < merges.Count; r++) _mergeRank.TryAdd(merges[r], r);
        _special = [.. special.OrderByDescending(s => s.Item1.Length)];
        _specialIds = [.. special.Select(s => s.Item2)];
        _specialFirst = [.. special.Where(s => s.Item1.Length > 0).Select(s => s.Item1[0])];
        _splitDigits = splitDigits;
        _addPrefixSpace = addPrefixSpace;
        Identity = identity with { VocabSize = size };
        EndOfText = eosToken is not null && _vocab.TryGetValue(eosToken, out var e) ? e
            : eosId is int i && i >= 0 && i < size ? i
            : _vocab.TryGetValue("<|endoftext|>", out var eot) ? eot : -1;
    }

    public TokenizerIdentity Identity { get; }
    public int VocabSize => Identity.VocabSize;
    /// <summary>The eos token of tokenizer_config.json, else config.json's eos_token_id, else &lt;|endoftext|&gt;, else -1.</summary>
    public int EndOfText { get; }

    /// <summary>
    /// Each vocab token's byte count (one byte-level symbol = one byte, <see cref="ByteLevel"/>); special
    /// (added) tokens and unused ids stand for no text: 0.
    /// </summary>
    public IReadOnlyList<int> TokenByteLengths => _byteLengths ??=
        [.. _idToToken.Select((tok, id) => tok is null || _specialIds.Contains(id) ? 0 : tok.Length)];
    int[]? _byteLengths;

    /// <summary>True when <paramref name="dir"/> holds tokenizer.json or vocab.json + merges.txt.</summary>
    public static bool HasTokenizer(string dir) =>
        File.Exists(Path.Combine(dir, TokenizerJson)) || (File.Exists(Path.Combine(dir, VocabJson)) && File.Exists(Path.Combine(dir, MergesTxt)));

    /// <summary>Loads the tokenizer of an HF folder (tokenizer.json, else vocab.json + merges.txt).</summary>
    public static HfBpeTokenizer Load(string dir)
    {
        dir = Path.GetFullPath(dir);
        var (eosToken, eosId) = ReadEos(dir);
        var tjPath = Path.Combine(dir, TokenizerJson);
        if (File.Exists(tjPath))
        {
            var bytes = File.ReadAllBytes(tjPath);
            var identity = new TokenizerIdentity(TokenizerKind.HfBpe, 0, Source: dir, Sha256: Sha(bytes));
            var root = JsonNode.Parse(bytes) as JsonObject ?? throw new InvalidDataException($"{tjPath} is not a JSON object.");
            var model = root["model"] as JsonObject ?? throw new InvalidDataException($"{tjPath} has no \"model\" object.");
            var type = model["type"]?.GetValue<string>();
            if (type != "BPE")
                throw new NotSupportedException($"{tjPath}: model.type is '{type}'; only byte-level BPE tokenizers (model.type \"BPE\") are supported.");
            if (root["normalizer"] is JsonObject norm)
                throw new NotSupportedException($"{tjPath}: normalizer '{norm["type"]}' is not supported (byte-level BPE tokenizers have none).");
            if (model["byte_fallback"]?.GetValue<bool>() == true)
                throw new NotSupportedException($"{tjPath}: byte_fallback BPE (SentencePiece-style, e.g. Llama 2) is not supported; only byte-level BPE is.");
            var (splitDigits, addPrefixSpace) = ReadPreTokenizer(root["pre_tokenizer"], tjPath);
            var vocab = (model["vocab"] as JsonObject ?? throw new InvalidDataException($"{tjPath} has no model.vocab."))
                .ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<int>());
            var merges = new List<(string, string)>();
            foreach (var m in model["merges"] as JsonArray ?? [])
                merges.Add(m switch
                {
                    JsonArray pair when pair.Count == 2 => (pair[0]!.GetValue<string>(), pair[1]!.GetValue<string>()),
                    JsonValue v => SplitMerge(v.GetValue<string>(), tjPath),
                    _ => throw new InvalidDataException($"{tjPath}: merge {m?.ToJsonString()} is neither \"a b\" nor [a, b]."),
                });
            var special = new List<(string, int)>();
            foreach (var t in root["added_tokens"] as JsonArray ?? [])
                if (t!["content"]!.GetValue<string>() is { Length: > 0 } content) special.Add((content, t["id"]!.GetValue<int>()));
            return new HfBpeTokenizer(vocab, merges, special, splitDigits, addPrefixSpace, eosToken, eosId, identity);
        }
        var vPath = Path.Combine(dir, VocabJson);
        var mPath = Path.Combine(dir, MergesTxt);
        if (!File.Exists(vPath) || !File.Exists(mPath))
            throw new FileNotFoundException($"{dir} has no {TokenizerJson} (nor {VocabJson} + {MergesTxt}): download the checkpoint's tokenizer files, or pass --tokenizer NAME.", tjPath);
        var vBytes = File.ReadAllBytes(vPath);
        var mBytes = File.ReadAllBytes(mPath);
        var id2 = new TokenizerIdentity(TokenizerKind.HfBpe, 0, Source: dir, Sha256: Sha([.. vBytes, .. mBytes]));
        var vocab2 = JsonSerializer.Deserialize<Dictionary<string, int>>(vBytes) ?? throw new InvalidDataException($"{vPath} is empty.");
        var merges2 = Encoding.UTF8.GetString(mBytes).Split('\n')
            .Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0 && !l.StartsWith("#version", StringComparison.Ordinal))
            .Select(l => SplitMerge(l, mPath)).ToList();
        // vocab.json has no added_tokens: <|...|> entries (GPT-2's <|endoftext|>) are the special tokens.
        var special2 = vocab2.Where(kv => kv.Key.StartsWith("<|", StringComparison.Ordinal) && kv.Key.EndsWith("|>", StringComparison.Ordinal))
            .Select(kv => (kv.Key, kv.Value)).ToList();
        return new HfBpeTokenizer(vocab2, merges2, special2, false, false, eosToken, eosId, id2);
    }

    /// <summary>
    /// Copies the tokenizer files an hf_bpe identity names (tokenizer.json or vocab.json + merges.txt, and
    /// tokenizer_config.json) into <paramref name="dir"/> and returns the identity pointing there, so an export is
    /// self-contained (HF loaders find tokenizer.json beside the weights). Other kinds are returned unchanged.
    /// </summary>
    public static TokenizerIdentity CopyFiles(TokenizerIdentity identity, string dir)
    {
        if (identity.Kind != TokenizerKind.HfBpe || identity.Source is null) return identity;
        var target = Path.GetFullPath(dir);
        if (string.Equals(Path.GetFullPath(identity.Source), target, StringComparison.Ordinal)) return identity;
        Directory.CreateDirectory(target);
        foreach (var name in new[] { TokenizerJson, VocabJson, MergesTxt, "tokenizer_config.json" })
        {
            var from = Path.Combine(identity.Source, name);
            if (!File.Exists(from)) continue;
            AtomicFile.Write(Path.Combine(target, name), to => { using var source = File.OpenRead(from); source.CopyTo(to); });
        }
        return identity with { Source = target };
    }

    static string Sha(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();

    static (string, string) SplitMerge(string line, string path)
    {
        int sp = line.IndexOf(' ');
        if (sp <= 0 || sp == line.Length - 1 || line.IndexOf(' ', sp + 1) >= 0)
            throw new InvalidDataException($"{path}: merge \"{line}\" is not two symbols separated by one space.");
        return (line[..sp], line[(sp + 1)..]);
    }

    // Supported: ByteLevel (GPT-2 pattern) alone, or a Sequence of Digits(individual_digits) then ByteLevel (SmolLM).
    static (bool SplitDigits, bool AddPrefixSpace) ReadPreTokenizer(JsonNode? node, string path)
    {
        if (node is null) throw new NotSupportedException($"{path}: no pre_tokenizer; only byte-level BPE (ByteLevel pre-tokenizer) is supported.");
        var steps = node["type"]?.GetValue<string>() == "Sequence" ? (node["pretokenizers"] as JsonArray ?? []).Select(n => n!).ToList() : [node];
        bool digits = false, byteLevel = false, prefix = false;
        foreach (var s in steps)
        {
            var t = s["type"]?.GetValue<string>();
            if (t == "Digits" && !byteLevel) digits = s["individual_digits"]?.GetValue<bool>() ?? false;
            else if (t == "ByteLevel" && (s["use_regex"]?.GetValue<bool>() ?? true))
            {
                byteLevel = true;
                prefix = s["add_prefix_space"]?.GetValue<bool>() ?? false;
            }
            else throw new NotSupportedException($"{path}: pre-tokenizer step '{t}' is not supported (only Digits then ByteLevel with the GPT-2 pattern).");
        }
        if (!byteLevel) throw new NotSupportedException($"{path}: the pre-tokenizer has no ByteLevel step; only byte-level BPE is supported.");
        return (digits, prefix);
    }

    // eos from tokenizer_config.json ("eos_token": "..." or {"content": ...}), else config.json eos_token_id (int or list).
    static (string? Token, int? Id) ReadEos(string dir)
    {
        string? token = null;
        int? id = null;
        var tc = Path.Combine(dir, "tokenizer_config.json");
        if (File.Exists(tc) && JsonNode.Parse(File.ReadAllText(tc)) is JsonObject t)
            token = t["eos_token"] switch { JsonValue v => v.GetValue<string>(), JsonObject o => o["content"]?.GetValue<string>(), _ => null };
        var cfg = Path.Combine(dir, "config.json");
        if (File.Exists(cfg) && JsonNode.Parse(File.ReadAllText(cfg)) is JsonObject c)
            id = c["eos_token_id"] switch { JsonArray a when a.Count > 0 => a[0]!.GetValue<int>(), JsonValue v => v.GetValue<int>(), _ => null };
        return (token, id);
    }

    public int[] Encode(string text)
    {
        var ids = new List<int>(text.Length / 3 + 8);
        int start = 0;
        for (int i = 0; i < text.Length;)
        {
            var hit = !_specialFirst.Contains(text[i]) ? default
                : Array.Find(_special, s => string.CompareOrdinal(text, i, s.Content, 0, s.Content.Length) == 0);
            if (hit.Content is null) { i++; continue; }
            EncodeOrdinary(text.AsSpan(start, i - start), ids, start == 0);
            ids.Add(hit.Id);
            i += hit.Content.Length;
            start = i;
        }
        EncodeOrdinary(text.AsSpan(start), ids, start == 0);
        return [.. ids];
    }

    void EncodeOrdinary(ReadOnlySpan<char> text, List<int> ids, bool first)
    {
        if (text.IsEmpty) return;
        if (_addPrefixSpace && first && text[0] != ' ') { EncodeOrdinary((" " + text.ToString()).AsSpan(), ids, false); return; }
        int i = 0;
        while (i < text.Length)
        {
            // Digits(individual_digits) runs before the GPT-2 pattern: each digit is its own piece.
            if (_splitDigits && char.IsAsciiDigit(text[i])) { EncodePiece(text.Slice(i, 1), ids); i++; continue; }
            int end = i;
            if (_splitDigits) while (end < text.Length && !char.IsAsciiDigit(text[end])) end++;
            else end = text.Length;
            var segment = text[i..end];
            for (int j = 0; j < segment.Length;)
            {
                int len = Gpt2PreTokenizer.Next(segment, j);
                EncodePiece(segment.Slice(j, len), ids);
                j += len;
            }
            i = end;
        }
    }

    void EncodePiece(ReadOnlySpan<char> piece, List<int> ids)
    {
        var cache = _cache.Value!;
        var lookup = cache.GetAlternateLookup<ReadOnlySpan<char>>();
        if (!lookup.TryGetValue(piece, out var pieceIds))
        {
            pieceIds = Merge(piece.ToString());
            if (cache.Count >= MaxCachedPieces) cache.Clear();
            cache[piece.ToString()] = pieceIds;
        }
        ids.AddRange(pieceIds);
    }

    // Classic BPE: repeatedly merge the adjacent pair with the lowest rank (earliest merge) until no pair is a merge.
    int[] Merge(string piece)
    {
        var symbols = Encoding.UTF8.GetBytes(piece).Select(b => ByteLevel.ByteToChar[b].ToString()).ToList();
        while (symbols.Count > 1)
        {
            int best = -1, bestRank = int.MaxValue;
            for (int k = 0; k + 1 < symbols.Count; k++)
                if (_mergeRank.TryGetValue((symbols[k], symbols[k + 1]), out var r) && r < bestRank) { bestRank = r; best = k; }
            if (best < 0) break;
            var (a, b) = (symbols[best], symbols[best + 1]);
            // Merge every occurrence of this pair left to right, as HF tokenizers does.
            var next = new List<string>(symbols.Count);
            for (int k = 0; k < symbols.Count; k++)
                if (k + 1 < symbols.Count && symbols[k] == a && symbols[k + 1] == b) { next.Add(a + b); k++; }
                else next.Add(symbols[k]);
            symbols = next;
        }
        var result = new int[symbols.Count];
        for (int k = 0; k < symbols.Count; k++)
            result[k] = _vocab.TryGetValue(symbols[k], out var id) ? id
                : throw new InvalidDataException($"{Identity.Source}: symbol '{symbols[k]}' is missing from the vocab (a byte-level vocab must hold all 256 byte symbols and every merge result).");
        return result;
    }

    public string Decode(IReadOnlyList<int> ids)
    {
        var bytes = new List<byte>(ids.Count * 4);
        var sb = new StringBuilder();
        for (int i = 0; i < ids.Count; i++)
        {
            int id = ids[i];
            if ((uint)id >= (uint)_idToToken.Length || _idToToken[id] is null)
                throw new ArgumentOutOfRangeException(nameof(ids), $"id {id} at position {i} is outside the {Identity.Describe()} vocab.");
            var tok = _idToToken[id];
            if (_specialIds.Contains(id)) { Flush(); sb.Append(tok); continue; }
            foreach (char c in tok)
                bytes.Add(ByteLevel.CharToByte.TryGetValue(c, out var b) ? b
                    : throw new InvalidDataException($"token {id} '{tok}' holds '{c}', which is not a byte-level symbol."));
        }
        Flush();
        return sb.ToString();

        void Flush()
        {
            sb.Append(Encoding.UTF8.GetString(bytes.ToArray()));
            bytes.Clear();
        }
    }
}

/// <summary>
/// GPT-2's byte-to-unicode table (Radford et al. 2019, encoder.py <c>bytes_to_unicode</c>): printable Latin-1 bytes
/// map to themselves, the other 68 bytes to U+0100.. in order, so every byte is a visible vocab character
/// (space = 'Ġ', newline = 'Ċ').
/// </summary>
public static class ByteLevel
{
    public static IReadOnlyList<char> ByteToChar { get; } = Build();
    public static IReadOnlyDictionary<char, byte> CharToByte { get; } =
        Enumerable.Range(0, 256).ToDictionary(b => ByteToChar[b], b => (byte)b);

    static char[] Build()
    {
        var map = new char[256];
        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)(256 + n++);
        }
        return map;
    }
}

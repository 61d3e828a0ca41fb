using System.IO.Compression;
using System.Reflection;
using System.Text;

namespace LMHarness.Tokenizers;

/// <summary>
/// The merge ranks of a tiktoken BPE vocabulary (token bytes -> id, lower id = earlier merge) and the merge
/// itself (Sennrich et al. 2016, as tiktoken's <c>_byte_pair_merge</c>): start from single bytes, repeatedly join
/// the adjacent pair whose concatenation has the lowest rank (leftmost on ties) until no pair is in the
/// vocabulary; the parts' ranks are the ids. Read from the Microsoft.ML.Tokenizers.Data.* package's embedded
/// <c>*.tiktoken.deflate</c>. Token bytes are held as Latin-1 strings (one char per byte) so lookups take spans.
/// </summary>
public sealed class BytePairRanks
{
    readonly Dictionary<string, int> _ranks;
    readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    BytePairRanks(Dictionary<string, int> ranks)
    {
        _ranks = ranks;
        _lookup = ranks.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public int Count => _ranks.Count;

    /// <summary>Every token (its bytes as a Latin-1 string, one char per byte) and its rank (= id).</summary>
    public IReadOnlyDictionary<string, int> Ranks => _ranks;

    /// <summary>Loads <paramref name="resource"/> (e.g. gpt2.tiktoken.deflate) from the data package assembly named.</summary>
    public static BytePairRanks FromDataPackage(string assemblyName, string resource)
    {
        var asm = Assembly.Load(assemblyName);
        using var stream = asm.GetManifestResourceStream(resource)
            ?? throw new InvalidDataException($"{assemblyName} has no resource {resource}: reinstall the package {assemblyName} 2.0.1.");
        using var inflated = new DeflateStream(stream, CompressionMode.Decompress);
        using var reader = new StreamReader(inflated, Encoding.UTF8);
        var ranks = new Dictionary<string, int>(1 << 16, StringComparer.Ordinal);
        int next = 0;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            if (line.Length == 0 || line.StartsWith("Capacity:", StringComparison.Ordinal)) continue;
            int space = line.IndexOf(' ');
            var bytes = Convert.FromBase64String(space < 0 ? line : line[..space]);
            int rank = space < 0 ? next : int.Parse(line.AsSpan(space + 1));
            ranks[Latin1(bytes)] = rank;
            next = rank + 1;
        }
        return new BytePairRanks(ranks);
    }

    static string Latin1(ReadOnlySpan<byte> bytes) => string.Create(bytes.Length, bytes.ToArray(), (chars, b) =>
    {
        for (int i = 0; i < b.Length; i++) chars[i] = (char)b[i];
    });

    /// <summary>The ids of one pre-tokenized piece of text.</summary>
    public int[] Encode(ReadOnlySpan<char> piece)
    {
        int byteCount = Encoding.UTF8.GetByteCount(piece);
        Span<byte> bytes = byteCount <= 256 ? stackalloc byte[byteCount] : new byte[byteCount];
        Encoding.UTF8.GetBytes(piece, bytes);
        Span<char> s = byteCount <= 256 ? stackalloc char[byteCount] : new char[byteCount];
        for (int i = 0; i < byteCount; i++) s[i] = (char)bytes[i];
        if (_lookup.TryGetValue(s, out int whole)) return [whole];

        // parts[i] = start of part i; parts[count] = end. pairRank[i] = rank of parts i and i+1 joined.
        var parts = new List<int>(byteCount + 1);
        for (int i = 0; i <= byteCount; i++) parts.Add(i);
        var pairRank = new List<int>(byteCount);
        for (int i = 0; i < byteCount - 1; i++) pairRank.Add(Rank(s, parts[i], parts[i + 2]));
        while (pairRank.Count > 0)
        {
            int best = int.MaxValue, at = -1;
            for (int i = 0; i < pairRank.Count; i++)
                if (pairRank[i] < best) { best = pairRank[i]; at = i; }
            if (at < 0) break;
            parts.RemoveAt(at + 1);
            pairRank.RemoveAt(at);
            if (at < pairRank.Count) pairRank[at] = Rank(s, parts[at], parts[at + 2]);
            if (at > 0) pairRank[at - 1] = Rank(s, parts[at - 1], parts[at + 1]);
        }
        var ids = new int[parts.Count - 1];
        for (int i = 0; i < ids.Length; i++)
            ids[i] = _lookup.TryGetValue(s[parts[i]..parts[i + 1]], out int id) ? id
                : throw new InvalidDataException($"byte sequence of length {parts[i + 1] - parts[i]} has no id: the BPE ranks are incomplete.");
        return ids;
    }

    int Rank(ReadOnlySpan<char> s, int start, int end) => _lookup.TryGetValue(s[start..end], out int r) ? r : int.MaxValue;
}

using System.Text;

namespace LMHarness.Tokenizers;

/// <summary>
/// Character-level tokenizer as in nanoGPT's shakespeare_char: the vocabulary is the sorted set of distinct chars
/// (UTF-16 code units, ordinal order) of the corpus, id i = table[i]; TinyShakespeare gives 65.
/// End of text is the NUL char '\0' when the table holds it: a corpus of several documents needs a separator and
/// NUL never occurs in accepted text (files containing NUL are skipped as binary), so it cannot collide with
/// real text. A table built from one document has no NUL, so the vocab matches nanoGPT exactly and
/// <see cref="EndOfText"/> is -1.
/// </summary>
public sealed class CharTokenizer : ITokenizer
{
    public const char EndOfTextChar = '\0';
    readonly string _table;
    readonly int[] _idOf = new int[char.MaxValue + 1];

    public CharTokenizer(string table)
    {
        if (string.IsNullOrEmpty(table)) throw new ArgumentException("A char table needs at least one character.", nameof(table));
        for (int i = 0; i < _idOf.Length; i++) _idOf[i] = -1;
        for (int i = 0; i < table.Length; i++)
        {
            if (i > 0 && table[i] <= table[i - 1])
                throw new ArgumentException($"A char table must be sorted and free of duplicates (ordinal); position {i} breaks that.", nameof(table));
            _idOf[table[i]] = i;
        }
        _table = table;
        Identity = new TokenizerIdentity(TokenizerKind.Char, table.Length, table);
    }

    /// <summary>Table of the sorted distinct chars of <paramref name="text"/> (one document: no end-of-text char).</summary>
    public static CharTokenizer FromText(string text) => FromDocuments([text]);

    /// <summary>Table of the sorted distinct chars of all documents, plus NUL as end of text when there are several.</summary>
    public static CharTokenizer FromDocuments(IEnumerable<string> documents)
    {
        var seen = new bool[char.MaxValue + 1];
        int count = 0;
        foreach (var doc in documents)
        {
            count++;
            foreach (char c in doc) seen[c] = true;
        }
        if (count > 1) seen[EndOfTextChar] = true;
        var sb = new StringBuilder();
        for (int c = 0; c < seen.Length; c++) if (seen[c]) sb.Append((char)c);
        if (sb.Length == 0) throw new InvalidDataException("Cannot build a char table from an empty corpus: give it some text.");
        return new CharTokenizer(sb.ToString());
    }

    public TokenizerIdentity Identity { get; }
    public int VocabSize => _table.Length;
    public int EndOfText => _idOf[EndOfTextChar];
    public string Table => _table;

    /// <summary>
    /// UTF-8 length of each table char: 1 below U+0080, 2 below U+0800, else 3; a surrogate (half of a 4-byte
    /// character) counts 2, so a pair sums to 4. The end-of-text NUL stands for no text: 0.
    /// </summary>
    public IReadOnlyList<int> TokenByteLengths => _byteLengths ??= [.. _table.Select((c, i) => i == EndOfText ? 0
        : char.IsSurrogate(c) ? 2 : c < 0x80 ? 1 : c < 0x800 ? 2 : 3)];
    int[]? _byteLengths;

    public int[] Encode(string text)
    {
        var ids = new int[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            int id = _idOf[text[i]];
            if (id < 0)
                throw new ArgumentException(
                    $"Character {(char.IsControl(text[i]) || char.IsSurrogate(text[i]) ? "" : $"'{text[i]}' ")}U+{(int)text[i]:X4} at position {i} is not in this char table ({_table.Length} chars): leave it out, or build the table from a corpus that contains it.");
            ids[i] = id;
        }
        return ids;
    }

    public string Decode(IReadOnlyList<int> ids)
    {
        var chars = new char[ids.Count];
        for (int i = 0; i < chars.Length; i++)
        {
            int id = ids[i];
            if ((uint)id >= (uint)_table.Length) throw new ArgumentOutOfRangeException(nameof(ids), $"id {id} at position {i} is outside this char vocab [0, {_table.Length}).");
            chars[i] = _table[id];
        }
        return new string(chars);
    }
}

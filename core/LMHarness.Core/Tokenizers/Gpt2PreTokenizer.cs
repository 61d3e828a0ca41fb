using System.Globalization;

namespace LMHarness.Tokenizers;

/// <summary>
/// Hand-written scanner equivalent to GPT-2's pre-tokenization regex (Radford et al. 2019, encoder.py):
/// <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>, evaluated on UTF-16 chars
/// with .NET's categories, as Microsoft.ML.Tokenizers' regex does. BPE only ever merges inside one of these
/// pieces, so a scanner plus a piece -> ids cache replaces the regex engine, which dominates the time.
/// </summary>
public static class Gpt2PreTokenizer
{
    /// <summary>Calls <paramref name="piece"/> with (start, length) of each piece of <paramref name="text"/> in order.</summary>
    public static void Split(ReadOnlySpan<char> text, Action<int, int> piece)
    {
        int i = 0;
        while (i < text.Length)
        {
            int len = Next(text, i);
            piece(i, len);
            i += len;
        }
    }

    enum Cls : byte { Letter, Number, Space, Other }

    static Cls Classify(char c)
    {
        if (c < 128)
        {
            if ((uint)((c | 0x20) - 'a') <= 'z' - 'a') return Cls.Letter;
            if ((uint)(c - '0') <= 9) return Cls.Number;
            if (c == ' ' || (uint)(c - '\t') <= '\r' - '\t') return Cls.Space;
            return Cls.Other;
        }
        if (char.IsWhiteSpace(c)) return Cls.Space;
        switch (char.GetUnicodeCategory(c))
        {
            case UnicodeCategory.UppercaseLetter: case UnicodeCategory.LowercaseLetter: case UnicodeCategory.TitlecaseLetter:
            case UnicodeCategory.ModifierLetter: case UnicodeCategory.OtherLetter:
                return Cls.Letter;
            case UnicodeCategory.DecimalDigitNumber: case UnicodeCategory.LetterNumber: case UnicodeCategory.OtherNumber:
                return Cls.Number;
            default:
                return Cls.Other;
        }
    }

    /// <summary>Length of the piece starting at <paramref name="i"/> (always >= 1).</summary>
    public static int Next(ReadOnlySpan<char> s, int i)
    {
        char c = s[i];
        // 's 't 're 've 'm 'll 'd (lower case only, as in GPT-2)
        if (c == '\'' && i + 1 < s.Length)
        {
            char d = s[i + 1];
            if (d is 's' or 't' or 'm' or 'd') return 2;
            if (i + 2 < s.Length && ((d == 'r' && s[i + 2] == 'e') || (d == 'v' && s[i + 2] == 'e') || (d == 'l' && s[i + 2] == 'l'))) return 3;
        }
        // " ?X+" for X in letters, numbers, other: an optional single U+0020 then a run of one class.
        int start = i;
        if (c == ' ' && i + 1 < s.Length)
        {
            var next = Classify(s[i + 1]);
            if (next != Cls.Space) { start = i + 1; c = s[start]; }
        }
        var cls = Classify(c);
        if (cls != Cls.Space)
        {
            int j = start + 1;
            while (j < s.Length && Classify(s[j]) == cls) j++;
            return j - i;
        }
        // Whitespace run: \s+(?!\S) takes the run but leaves its last char when a non-space follows;
        // a single whitespace char followed by a non-space falls through to \s+ and is taken alone.
        int k = i + 1;
        while (k < s.Length && Classify(s[k]) == Cls.Space) k++;
        if (k == s.Length) return k - i;
        return k - i > 1 ? k - i - 1 : 1;
    }
}

using System.Text;

namespace LMHarness.Data;

/// <summary>
/// The lines of a text reader, as <see cref="TextReader.ReadLine"/> splits them (at "\n", "\r" or "\r\n"), each at most
/// a given number of characters. ReadLine holds a line whole however long it is, so a file without a newline (a
/// multi-gigabyte dump in one line, or binary data without a NUL) would be one allocation of its whole size; here the
/// line is refused as soon as it passes the bound, having held no more than that.
/// </summary>
public static class BoundedLines
{
    /// <summary>Yields each line; throws what <paramref name="tooLong"/> makes (given the 1-based line number) for a line past <paramref name="maxChars"/>.</summary>
    public static IEnumerable<string> Read(TextReader reader, int maxChars, Func<int, Exception> tooLong)
    {
        var buffer = new char[1 << 16];
        var line = new StringBuilder();
        int lineNo = 1, n;
        bool afterCr = false;   // a "\r" ended the last line: a "\n" right after it belongs to it
        while ((n = reader.Read(buffer, 0, buffer.Length)) > 0)
        {
            int start = 0;
            for (int i = 0; i < n; i++)
            {
                char c = buffer[i];
                if (c != '\n' && c != '\r') { afterCr = false; continue; }
                if (c == '\n' && afterCr && i == start) { afterCr = false; start = i + 1; continue; }
                Append(line, buffer, start, i - start, maxChars, tooLong, lineNo);
                yield return line.ToString();
                line.Clear();
                lineNo++;
                afterCr = c == '\r';
                start = i + 1;
            }
            Append(line, buffer, start, n - start, maxChars, tooLong, lineNo);
        }
        if (line.Length > 0) yield return line.ToString();
    }

    static void Append(StringBuilder line, char[] buffer, int start, int count, int maxChars, Func<int, Exception> tooLong, int lineNo)
    {
        if (line.Length + count > maxChars) throw tooLong(lineNo);
        line.Append(buffer, start, count);
    }
}

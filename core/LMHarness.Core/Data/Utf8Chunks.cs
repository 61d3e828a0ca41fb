using System.Text;

namespace LMHarness.Data;

/// <summary>
/// Streams a text file as UTF-8 chunks of bounded size, so a file of any size is read with bounded memory.
/// A chunk ends just after a letter followed by '\n' when one exists near the target size: GPT-2,
/// cl100k_base and o200k_base pre-tokenizers never join a letter and a following newline in one piece, so the
/// ids do not depend on where chunks were cut. Invalid UTF-8 is replaced by U+FFFD and counted; a file with NUL
/// bytes in its first 8 KB is binary.
/// </summary>
public static class Utf8Chunks
{
    /// <summary>Bytes inspected for NUL to call a file binary (as git and grep do).</summary>
    public const int BinaryProbeBytes = 8192;

    /// <summary>True when the first 8 KB of the file hold a NUL byte.</summary>
    public static bool LooksBinary(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        var probe = new byte[BinaryProbeBytes];
        int n = fs.ReadAtLeast(probe, probe.Length, throwOnEndOfStream: false);
        return probe.AsSpan(0, n).Contains((byte)0);
    }

    /// <summary>The file's text in chunks of about <paramref name="chunkBytes"/> bytes (documents are not split otherwise).</summary>
    public static IEnumerable<string> Read(string path, int chunkBytes, SourceStats stats)
    {
        var (encoding, counter) = CountingUtf8();
        var decoder = encoding.GetDecoder();
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var buffer = new byte[chunkBytes + 4];
        var chars = new char[encoding.GetMaxCharCount(buffer.Length)];
        int filled = 0;
        bool first = true;
        while (true)
        {
            int read = fs.ReadAtLeast(buffer.AsSpan(filled), buffer.Length - filled, throwOnEndOfStream: false);
            filled += read;
            bool end = filled < buffer.Length;
            if (filled == 0) break;
            int cut = end ? filled : CutPoint(buffer.AsSpan(0, filled));
            int skip = first && filled >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF ? 3 : 0; // BOM
            first = false;
            var bytes = buffer.AsSpan(skip, cut - skip);
            // One decoding call per chunk: the fallback counts each invalid sequence once.
            int n = decoder.GetChars(bytes, chars, flush: end);
            if (n > 0) yield return new string(chars, 0, n);
            buffer.AsSpan(cut, filled - cut).CopyTo(buffer);
            filled -= cut;
            if (end && filled == 0) break;
        }
        if (counter.Count > 0) stats.InvalidUtf8(path, counter.Count);
    }

    /// <summary>Where to end a full buffer: after the last "letter\n" in its second half, else the last '\n', else a UTF-8 boundary.</summary>
    static int CutPoint(ReadOnlySpan<byte> b)
    {
        int half = b.Length / 2;
        for (int i = b.Length - 1; i > half; i--)
            if (b[i] == (byte)'\n' && (uint)((b[i - 1] | 0x20) - 'a') <= 'z' - 'a') return i + 1;
        int nl = b.LastIndexOf((byte)'\n');
        if (nl > 0) return nl + 1;
        int j = b.Length - 1;
        while (j > 0 && (b[j] & 0xC0) == 0x80) j--; // cut before the last character's lead byte
        return j > 0 ? j : b.Length;
    }

    /// <summary>A UTF-8 encoding whose decoder replaces each invalid byte sequence by U+FFFD and counts it.</summary>
    public static (Encoding Encoding, CountingFallback Counter) CountingUtf8()
    {
        var counter = new CountingFallback();
        var encoding = (Encoding)new UTF8Encoding(false, false).Clone();
        encoding.DecoderFallback = counter;
        return (encoding, counter);
    }

    /// <summary>Replaces each invalid byte sequence with U+FFFD and counts them in <see cref="Count"/>.</summary>
    public sealed class CountingFallback : DecoderFallback
    {
        public long Count;
        public override int MaxCharCount => 1;
        public override DecoderFallbackBuffer CreateFallbackBuffer() => new Buffer(this);

        sealed class Buffer(CountingFallback owner) : DecoderFallbackBuffer
        {
            bool _pending;
            public override int Remaining => _pending ? 1 : 0;
            public override bool Fallback(byte[] bytesUnknown, int index) { owner.Count++; _pending = true; return true; }
            public override char GetNextChar() { if (!_pending) return '\0'; _pending = false; return '\uFFFD'; }
            public override bool MovePrevious() => false;
            public override void Reset() => _pending = false;
        }
    }
}

using System.Text;

namespace LMHarness.Tokenizers;

/// <summary>
/// Raw UTF-8 bytes as ids: vocab 256, id = byte value. End of text is NUL (0), which accepted text never holds
/// (files with NUL bytes are skipped as binary). Decoding bytes that are not valid UTF-8 (a window cut mid
/// character) yields U+FFFD for the broken sequence.
/// </summary>
public sealed class ByteTokenizer : ITokenizer
{
    public TokenizerIdentity Identity => TokenizerIdentity.Bytes;
    public int VocabSize => 256;
    public int EndOfText => 0;

    /// <summary>One byte per id, except the end-of-text NUL (0), which stands for no text.</summary>
    public IReadOnlyList<int> TokenByteLengths { get; } = [0, .. Enumerable.Repeat(1, 255)];

    public int[] Encode(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var ids = new int[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) ids[i] = bytes[i];
        return ids;
    }

    public string Decode(IReadOnlyList<int> ids)
    {
        var bytes = new byte[ids.Count];
        for (int i = 0; i < bytes.Length; i++)
        {
            int id = ids[i];
            if ((uint)id > 255) throw new ArgumentOutOfRangeException(nameof(ids), $"id {id} at position {i} is not a byte (0..255).");
            bytes[i] = (byte)id;
        }
        return Encoding.UTF8.GetString(bytes);
    }
}

using System.Security.Cryptography;

namespace LMHarness.IO;

/// <summary>
/// SHA-256 content checksums (FIPS 180-4) of what LMHarness writes: checkpoints per section, safetensors exports,
/// token files. SHA-256 rather than a CRC because a damaged file must never pass (a CRC-32 lets one random
/// corruption in 4 billion through; SHA-256 none in practice), and because OpenSSL's SHA-NI path behind the BCL hashes
/// at about 1.3 GB/s on the dev box, cheaper than reading the bytes from disk. Hex digests are lowercase, as
/// <c>sha256sum</c> prints them, so a token file's checksum can be checked with that tool too.
/// </summary>
public static class ContentHash
{
    /// <summary>Bytes in a SHA-256 digest.</summary>
    public const int Size = 32;

    const int ChunkBytes = 1 << 20;

    /// <summary>Lowercase hex of a digest (what <c>sha256sum</c> prints).</summary>
    public static string Hex(ReadOnlySpan<byte> digest) => Convert.ToHexStringLower(digest);

    /// <summary>True when <paramref name="text"/> is a lowercase hex SHA-256 digest (64 chars of 0-9a-f).</summary>
    public static bool IsHex(string? text) =>
        text is { Length: 2 * Size } && text.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f');

    /// <summary>
    /// SHA-256 of the next <paramref name="length"/> bytes of <paramref name="stream"/>, read in 1 MiB chunks (memory stays
    /// bounded whatever the length). Throws <see cref="EndOfStreamException"/> when the stream ends first.
    /// </summary>
    public static byte[] Of(Stream stream, long length)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[(int)Math.Min(ChunkBytes, Math.Max(length, 1))];
        for (long left = length; left > 0;)
        {
            int n = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
            if (n == 0) throw new EndOfStreamException();
            hash.AppendData(buffer, 0, n);
            left -= n;
        }
        return hash.GetHashAndReset();
    }

    /// <summary>Lowercase hex SHA-256 of a whole file (equal to <c>sha256sum path</c>).</summary>
    public static string OfFile(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        return Hex(Of(fs, fs.Length));
    }
}

using System.Buffers.Binary;
using System.Numerics;

namespace LMHarness.Data;

/// <summary>
/// The per-block checksums of a token file (sidecar <c>block_bytes</c> and <c>block_crc32c</c>) and which blocks have
/// been checked in this process. Reads go through <see cref="EnsureVerified"/>: the first read that touches a block
/// checksums the whole block and refuses the file, naming it and the block's byte range, when it differs, so a
/// changed byte (even one that leaves every id below the vocab size) is found before any batch holding it is used.
/// Each block is checked at most once per open file, so a run pays about one pass over the blocks it reads.
/// CRC-32C (Castagnoli, the checksum of iSCSI, ext4 and btrfs metadata) detects every burst of up to 32 flipped
/// bits, and the CPU computes it in hardware (SSE4.2 <c>crc32</c>), many times faster than the file's SHA-256.
/// </summary>
public sealed unsafe class TokenBlocks
{
    /// <summary>
    /// Block size of new token files. A random window's first read of a block checks all of it, so the size bounds what
    /// a step can pay (12 new blocks of 2 MiB: ~7 ms at 3.6 GB/s), and on a 10 GB file the checks spread over the
    /// ~3,600 steps random windows take to reach every block, under 2 % of a nanogpt-cpu step (bench block-checks).
    /// </summary>
    public const int DefaultBlockBytes = 2 << 20;

    readonly string _path;
    readonly byte* _base;
    readonly long _bytes;
    readonly IReadOnlyList<uint> _sums;
    readonly bool[] _verified;
    readonly object _lock = new();

    internal TokenBlocks(string path, byte* basePointer, long bytes, int blockBytes, IReadOnlyList<uint> sums)
    {
        _path = path;
        _base = basePointer;
        _bytes = bytes;
        BlockBytes = blockBytes;
        _sums = sums;
        _verified = new bool[sums.Count];
    }

    /// <summary>Bytes per block (the last block may be shorter).</summary>
    public int BlockBytes { get; }
    /// <summary>Blocks in the file.</summary>
    public int Count => _sums.Count;
    /// <summary>Blocks checked so far in this process.</summary>
    public int Verified { get { lock (_lock) return _verified.Count(v => v); } }
    /// <summary>Seconds spent checksumming blocks so far (what the checks cost this process).</summary>
    public double Seconds { get; private set; }

    /// <summary>The number of blocks of <paramref name="blockBytes"/> a file of <paramref name="bytes"/> bytes has.</summary>
    public static int BlockCount(long bytes, int blockBytes) => (int)((bytes + blockBytes - 1) / blockBytes);

    /// <summary>Checks every block overlapping bytes [<paramref name="start"/>, <paramref name="end"/>) not checked yet.</summary>
    public void EnsureVerified(long start, long end)
    {
        if (end <= start) return;
        int first = (int)(start / BlockBytes), last = (int)((end - 1) / BlockBytes);
        for (int b = first; b <= last; b++)
            if (!Volatile.Read(ref _verified[b])) Verify(b);
    }

    void Verify(int block)
    {
        lock (_lock)
        {
            if (_verified[block]) return;
            long start = (long)block * BlockBytes, length = Math.Min(BlockBytes, _bytes - start);
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            uint actual = Crc32C(new ReadOnlySpan<byte>(_base + start, (int)length));
            Seconds += System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds;
            if (actual != _sums[block])
                throw new InvalidDataException(
                    $"Token file {_path} is damaged in bytes [{start}, {start + length}) (block {block} of {Count}): their CRC-32C is {actual:x8} but its sidecar " +
                    $"{TokenFileInfo.SidecarPath(_path)} recorded {_sums[block]:x8}, so no batch is read from them. Prepare the token file again (or restore it from a copy).");
            Volatile.Write(ref _verified[block], true);
        }
    }

    /// <summary>The CRC-32C of each <paramref name="blockBytes"/> block of the <paramref name="bytes"/> bytes at <paramref name="data"/> (a mapped file).</summary>
    internal static uint[] Compute(byte* data, long bytes, int blockBytes)
    {
        var sums = new uint[BlockCount(bytes, blockBytes)];
        for (int b = 0; b < sums.Length; b++)
        {
            long start = (long)b * blockBytes;
            sums[b] = Crc32C(new ReadOnlySpan<byte>(data + start, (int)Math.Min(blockBytes, bytes - start)));
        }
        return sums;
    }

    /// <summary>The CRC-32C of a file's blocks, read from <paramref name="stream"/> (its first <paramref name="length"/> bytes).</summary>
    public static uint[] Compute(Stream stream, long length, int blockBytes)
    {
        var sums = new uint[BlockCount(length, blockBytes)];
        var buffer = new byte[(int)Math.Min(blockBytes, Math.Max(length, 1))];
        for (int b = 0; b < sums.Length; b++)
        {
            int n = (int)Math.Min(blockBytes, length - (long)b * blockBytes);
            stream.ReadExactly(buffer, 0, n);
            sums[b] = Crc32C(buffer.AsSpan(0, n));
        }
        return sums;
    }

    /// <summary>Standard CRC-32C (initial value and final xor 0xFFFFFFFF; "123456789" gives e3069283), 8 bytes per instruction.</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = ~0u;
        int i = 0;
        for (; i + 8 <= data.Length; i += 8) crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data[i..]));
        for (; i < data.Length; i++) crc = BitOperations.Crc32C(crc, data[i]);
        return ~crc;
    }
}

using System.Buffers.Binary;
using LMHarness.IO;
using LMHarness.Tokenizers;

namespace LMHarness.Data;

/// <summary>
/// Appends token ids to a flat little-endian uint16/uint32 file under a temp name (<see cref="AtomicFile.TempPath"/>),
/// hashing them on the way; <see cref="Complete"/> reads the temp back, compares its SHA-256 with the bytes it
/// wrote and checksums each block of it for later reads (<see cref="TokenBlocks"/>) (so a disk that corrupts writes is caught at prepare time), renames it into place, which also removes temps
/// that killed prepares of the same file left, and then writes the sidecar with that checksum (temp + rename), so a
/// reader never sees a file without the sidecar that describes all of it. Disposing an incomplete writer deletes its
/// temp file.
/// </summary>
public sealed class TokenFileWriter : IDisposable
{
    readonly string _path;
    readonly string _tempPath;
    readonly FileStream _file;
    readonly HashingStream _stream;
    readonly bool _wide;
    readonly int _vocab;
    readonly int _blockBytes;
    byte[] _buffer = new byte[1 << 16];
    bool _completed;

    /// <summary>A writer of <paramref name="path"/>; <paramref name="blockBytes"/> is the size of each checksummed block.</summary>
    public TokenFileWriter(string path, TokenizerIdentity tokenizer, int blockBytes = TokenBlocks.DefaultBlockBytes)
    {
        if (blockBytes <= 0) throw new ArgumentOutOfRangeException(nameof(blockBytes), $"block size must be > 0 bytes (got {blockBytes}).");
        _blockBytes = blockBytes;
        _path = Path.GetFullPath(path);
        Tokenizer = tokenizer;
        _vocab = tokenizer.VocabSize;
        _wide = TokenFileInfo.DtypeFor(_vocab) == "uint32";
        _tempPath = AtomicFile.TempPath(_path);
        _file = new FileStream(_tempPath, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 20);
        _stream = new HashingStream(_file);
    }

    public TokenizerIdentity Tokenizer { get; }
    /// <summary>Ids written so far.</summary>
    public long Count { get; private set; }

    /// <summary>Appends ids; each must be in [0, vocab size).</summary>
    public void Write(ReadOnlySpan<int> ids)
    {
        if (_completed) throw new InvalidOperationException("This token file is already complete.");
        int width = _wide ? 4 : 2;
        if (_buffer.Length < ids.Length * width) _buffer = new byte[ids.Length * width];
        var bytes = _buffer.AsSpan(0, ids.Length * width);
        for (int i = 0; i < ids.Length; i++)
        {
            int id = ids[i];
            if ((uint)id >= (uint)_vocab)
                throw new ArgumentOutOfRangeException(nameof(ids), $"id {id} is outside the {Tokenizer.Describe()} vocab; writing {_path} stopped.");
            if (_wide) BinaryPrimitives.WriteUInt32LittleEndian(bytes.Slice(4 * i), (uint)id);
            else BinaryPrimitives.WriteUInt16LittleEndian(bytes.Slice(2 * i), (ushort)id);
        }
        _stream.Write(bytes);
        Count += ids.Length;
    }

    /// <summary>
    /// Flushes, renames the ids into place and writes the sidecar. The first floor(count * (1 - valFraction)) ids are
    /// the train split and the rest the validation split (nanoGPT's <c>data[:int(n*0.9)]</c>). Throws (leaving nothing behind) when no ids were written.
    /// </summary>
    public TokenFileInfo Complete(double valFraction, long documents, IReadOnlyList<SourceInfo> sources)
    {
        if (valFraction is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(valFraction), $"val fraction must be in [0, 1) (got {valFraction}).");
        if (Count == 0)
        {
            Dispose();
            throw new InvalidDataException($"The corpus for {_path} is empty: no tokens were produced. Point it at files that contain text.");
        }
        var written = ContentHash.Hex(_stream.Digest());
        _file.Flush(flushToDisk: true);
        _file.Position = 0;
        var onDisk = ContentHash.Hex(ContentHash.Of(_file, _file.Length));
        // Block sums of the bytes as read back from disk, the ones every later read is checked against.
        _file.Position = 0;
        var blocks = TokenBlocks.Compute(_file, _file.Length, _blockBytes);
        if (onDisk != written)
        {
            Dispose();
            throw new IOException($"Writing {_path} failed: the {Count:N0} ids read back from {_tempPath} differ from the ids written (SHA-256 {onDisk} instead of {written}); the disk or file system corrupts data. Nothing was kept; check the disk and prepare again.");
        }
        _stream.Dispose();
        _file.Dispose();
        long val = Count - (long)(Count * (1 - valFraction));
        var info = new TokenFileInfo
        {
            Tokenizer = Tokenizer,
            Dtype = TokenFileInfo.DtypeFor(_vocab),
            TokenCount = Count,
            TrainTokens = Count - val,
            ValTokens = val,
            Documents = documents,
            Sources = sources,
            Sha256 = written,
            BlockBytes = _blockBytes,
            BlockCrc32c = blocks,
        };
        var sidecar = TokenFileInfo.SidecarPath(_path);
        // Old sidecar goes first: at no moment may a sidecar describe ids it was not written for.
        File.Delete(sidecar);
        AtomicFile.Commit(_tempPath, _path);
        AtomicFile.WriteAllText(sidecar, info.ToJson());
        _completed = true;
        return info;
    }

    public void Dispose()
    {
        _stream.Dispose();
        _file.Dispose();
        if (!_completed && File.Exists(_tempPath)) File.Delete(_tempPath);
    }
}

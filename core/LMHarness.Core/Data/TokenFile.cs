using System.Diagnostics;
using System.IO.MemoryMappedFiles;
using System.Numerics;
using System.Security.Cryptography;
using LMHarness.IO;
using LMHarness.Tokenizers;

namespace LMHarness.Data;

/// <summary>
/// A prepared token file, memory-mapped read-only: the ids are paged in by the OS on demand, so a file far larger
/// than RAM costs only the pages touched. Train split = ids [0, <see cref="TrainTokens"/>), val split = the rest.
/// <see cref="Open(string)"/> refuses files whose size, dtype or ids disagree with the sidecar (one vectorised pass
/// over the ids); <see cref="Verify()"/> also checks the sidecar's SHA-256 of every byte (one hashing pass, about
/// 1 GB/s), which a changed byte cannot pass. A sidecar with block sums has every block checked the first time a read
/// touches it (<see cref="Blocks"/>), so damage is refused before a batch holding it is used. Which is checked when
/// is in docs/data.md.
/// </summary>
public sealed unsafe class TokenFile : IDisposable
{
    readonly MemoryMappedFile _map;
    readonly MemoryMappedViewAccessor _view;
    readonly byte* _base;
    readonly bool _wide;
    bool _disposed;
    /// <summary>Files whose "no block sums" warning this process already printed: once per file, not per open.</summary>
    static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> Warned = new();

    /// <summary>An older sidecar without block sums gets its whole file verified at open up to this size (~0.3 s of SHA-256), else a warning.</summary>
    public const long VerifyAtOpenBytes = 128L << 20;

    TokenFile(string path, TokenFileInfo info, MemoryMappedFile map, MemoryMappedViewAccessor view)
    {
        Path = path;
        Info = info;
        _map = map;
        _view = view;
        _wide = info.Dtype == "uint32";
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _base = p + view.PointerOffset;
        if (info.HasBlockSums) Blocks = new TokenBlocks(path, _base, info.TokenCount * info.BytesPerToken, info.BlockBytes!.Value, info.BlockCrc32c!);
    }

    /// <summary>The per-block checksums every read verifies; null when the sidecar has none (an older prepare).</summary>
    public TokenBlocks? Blocks { get; }

    public string Path { get; }
    public TokenFileInfo Info { get; }
    /// <summary>The tokenizer that made these ids; check it against yours with <see cref="TokenizerIdentity.EnsureMatches(TokenizerIdentity, string)"/>.</summary>
    public TokenizerIdentity Tokenizer => Info.Tokenizer;
    public long Count => Info.TokenCount;
    public long TrainTokens => Info.TrainTokens;
    public long ValTokens => Info.ValTokens;
    /// <summary>What tells this file's contents from another's without reading them all: a hash of the sidecar, the
    /// size and the write time. A run's identity includes it, so a re-prepared or different file is never mistaken for this one.</summary>
    public string Identity { get; private init; } = "";

    /// <summary>Opens, validates size/dtype against the sidecar and checks every id is below the vocab size.</summary>
    public static TokenFile Open(string path) => Open(path, true);

    /// <summary>Opens and validates; <paramref name="checkIds"/> also scans every id against the vocab size (one pass over the file).</summary>
    public static TokenFile Open(string path, bool checkIds) => Open(path, checkIds, VerifyAtOpenBytes, Console.Error);

    /// <summary>
    /// <see cref="Open(string, bool)"/> with the size up to which a sidecar without block sums has its file verified
    /// whole, and where the warning for a bigger one goes (tests).
    /// </summary>
    internal static TokenFile Open(string path, bool checkIds, long verifyAtOpenBytes, TextWriter warnings)
    {
        path = System.IO.Path.GetFullPath(path);
        var sidecar = TokenFileInfo.SidecarPath(path);
        if (!File.Exists(path))
        {
            var dir = System.IO.Path.GetDirectoryName(path)!;
            var leftovers = Directory.Exists(dir) ? Directory.GetFiles(dir, System.IO.Path.GetFileName(path) + ".*.tmp") : [];
            throw new FileNotFoundException(leftovers.Length > 0
                ? $"Token file {path} does not exist; {leftovers[0]} is a leftover of a prepare that never finished and is not used. Delete it and prepare again."
                : $"Token file {path} does not exist: prepare it first (TokenFile.Prepare / the prepare command).", path);
        }
        if (!File.Exists(sidecar))
            throw new InvalidDataException($"Token file {path} has no sidecar {sidecar}: it was not completely written (or the sidecar was removed), so it is not used. Prepare it again.");
        var sidecarText = File.ReadAllText(sidecar);
        var info = TokenFileInfo.FromJson(sidecarText, $"Sidecar {sidecar}");
        Validate(path, info);

        long bytes = new FileInfo(path).Length;
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
        var view = map.CreateViewAccessor(0, bytes, MemoryMappedFileAccess.Read);
        var file = new TokenFile(path, info, map, view)
        {
            // The sidecar (tokenizer, counts, sources) plus the file's size and write time: a re-prepared file differs.
            // Block sums are left out: adding them to an older sidecar (prepare --verify) keeps the identity.
            Identity = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(
                $"{TokenFileInfo.WithoutBlockSums(sidecarText)}|{bytes}|{File.GetLastWriteTimeUtc(path).Ticks}")))[..16].ToLowerInvariant(),
        };
        if (checkIds)
        {
            try
            {
                file.CheckIds();
                file.CheckWithoutBlockSums(verifyAtOpenBytes, warnings);
            }
            catch { file.Dispose(); throw; }
        }
        return file;
    }

    /// <summary>
    /// A sidecar without block sums (written before they existed): a small file is verified whole now, so damage is
    /// still refused before training; a big one gets one warning per process naming the command that adds them.
    /// </summary>
    void CheckWithoutBlockSums(long verifyAtOpenBytes, TextWriter warnings)
    {
        if (Blocks is not null) return;
        long bytes = Count * Info.BytesPerToken;
        if (Info.Sha256 is not null && bytes <= verifyAtOpenBytes) { Verify(); return; }
        if (!Warned.TryAdd(Path, true)) return;
        warnings.WriteLine(Info.Sha256 is null
            ? $"warning: token file {Path} has a format-{Info.FormatVersion} sidecar with no checksums: a changed id that stays below the vocab size would train unnoticed. Prepare it again to get them."
            : $"warning: token file {Path} ({bytes / 1e9:F1} GB) has no block checksums (its sidecar predates them): a changed id that stays below the vocab size would train unnoticed. " +
              $"Add them once with: dotnet script scripts/prepare.csx -- --verify {Path}");
    }

    /// <summary>
    /// Verifies <paramref name="path"/> whole against its SHA-256 and, when its sidecar has no block sums, adds them
    /// (the sidecar rewritten through a temp file and a rename, its other text and so the file's identity unchanged).
    /// Returns whether it added them.
    /// </summary>
    public static bool AddBlockSums(string path, int blockBytes = TokenBlocks.DefaultBlockBytes)
    {
        using var file = Open(path, checkIds: false);
        file.Verify(); // sums of damaged bytes would bless the damage: only a file that matches its SHA-256 gets them
        if (file.Blocks is not null) return false;
        var sidecar = TokenFileInfo.SidecarPath(file.Path);
        var sums = TokenBlocks.Compute(file._base, file.Count * file.Info.BytesPerToken, blockBytes);
        AtomicFile.WriteAllText(sidecar, TokenFileInfo.WithBlockSums(File.ReadAllText(sidecar), blockBytes, sums));
        return true;
    }

    static void Validate(string path, TokenFileInfo info)
    {
        var sidecar = TokenFileInfo.SidecarPath(path);
        if (!TokenFileInfo.IsReadable(info.FormatVersion))
            throw new InvalidDataException($"{sidecar} has format version {info.FormatVersion}; this LMHarness reads versions 1 and {TokenFileInfo.CurrentFormatVersion}. Prepare the token file again.");
        if (info.FormatVersion >= 2 && !ContentHash.IsHex(info.Sha256))
            throw new InvalidDataException($"{sidecar} has no valid sha256 (64 lowercase hex digits; got '{info.Sha256}'), which format {info.FormatVersion} requires: the sidecar is damaged. Prepare the token file again.");
        if (info.Tokenizer is null || info.Tokenizer.VocabSize <= 0)
            throw new InvalidDataException($"{sidecar} names no tokenizer (or a vocab size <= 0): prepare the token file again.");
        var expectedDtype = TokenFileInfo.DtypeFor(info.Tokenizer.VocabSize);
        if (info.Dtype != expectedDtype)
            throw new InvalidDataException($"{sidecar} says dtype '{info.Dtype}' but a vocab of {info.Tokenizer.VocabSize} ids is stored as '{expectedDtype}': the sidecar disagrees with the file. Prepare it again.");
        // Compared by subtraction and division, never by a sum or product that a damaged count could overflow back into agreement.
        if (info.TokenCount <= 0 || info.TrainTokens < 0 || info.ValTokens < 0 || info.ValTokens > info.TokenCount || info.TrainTokens != info.TokenCount - info.ValTokens)
            throw new InvalidDataException($"{sidecar} has inconsistent counts (token_count {info.TokenCount}, train_tokens {info.TrainTokens}, val_tokens {info.ValTokens}): prepare the token file again.");
        long bytes = new FileInfo(path).Length;
        if (info.TokenCount > long.MaxValue / info.BytesPerToken)
            throw new InvalidDataException($"{sidecar} says token_count {info.TokenCount}, more {info.Dtype} ids than any file holds, but {path} has {bytes} bytes: the sidecar is damaged. Prepare the token file again.");
        long expected = info.TokenCount * info.BytesPerToken;
        if ((info.BlockBytes is null) != (info.BlockCrc32c is null) || info.BlockBytes is <= 0
            || info.HasBlockSums && info.BlockCrc32c!.Count != TokenBlocks.BlockCount(expected, info.BlockBytes!.Value))
            throw new InvalidDataException($"{sidecar} has block_bytes {info.BlockBytes?.ToString() ?? "(none)"} and {info.BlockCrc32c?.Count.ToString() ?? "no"} block checksums, which do not cover {info.TokenCount} {info.Dtype} ids: the sidecar is damaged. Prepare the token file again.");
        if (bytes != expected)
            throw new InvalidDataException(bytes < expected
                ? $"Token file {path} is truncated: {bytes} bytes, but its sidecar says {info.TokenCount} {info.Dtype} ids ({expected} bytes). Prepare it again."
                : $"Token file {path} has {bytes} bytes, but its sidecar says {info.TokenCount} {info.Dtype} ids ({expected} bytes): the sidecar belongs to another file. Prepare it again.");
    }

    /// <summary>Throws naming the first id &gt;= vocab size (a corrupt file or a sidecar from another tokenizer).</summary>
    public void CheckIds()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int vocab = Tokenizer.VocabSize;
        const long chunk = 1 << 24;
        for (long start = 0; start < Count; start += chunk)
        {
            int n = (int)Math.Min(chunk, Count - start);
            long max = _wide ? MaxOf(new ReadOnlySpan<uint>((uint*)_base + start, n)) : MaxOf(new ReadOnlySpan<ushort>((ushort*)_base + start, n));
            if (max < vocab) continue;
            for (long i = start; i < start + n; i++)
                if (Raw(i) >= vocab)
                    throw new InvalidDataException(
                        $"Token file {Path} holds id {Raw(i)} at position {i}, but its tokenizer {Tokenizer.Describe()} has only {vocab} ids: the file is corrupt or its sidecar belongs to another tokenizer. Prepare it again.");
        }
    }

    /// <summary>
    /// Checks every byte against the sidecar's SHA-256 (one pass over the mapped file) and returns what was checked
    /// and how fast. Throws <see cref="InvalidDataException"/> naming the file on a mismatch, or when its sidecar is
    /// format 1 and so records no checksum.
    /// </summary>
    public TokenFileVerification Verify()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var sidecar = TokenFileInfo.SidecarPath(Path);
        if (Info.Sha256 is null)
            throw new InvalidDataException($"Token file {Path} cannot be verified: its sidecar {sidecar} is format {Info.FormatVersion}, written before token files carried a checksum. Prepare it again to get one.");
        var clock = Stopwatch.StartNew();
        long bytes = Count * Info.BytesPerToken;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        const long chunk = 1 << 24;
        for (long start = 0; start < bytes; start += chunk)
            hash.AppendData(new ReadOnlySpan<byte>(_base + start, (int)Math.Min(chunk, bytes - start)));
        var actual = ContentHash.Hex(hash.GetHashAndReset());
        if (actual != Info.Sha256)
            throw new InvalidDataException($"Token file {Path} does not match the SHA-256 in its sidecar {sidecar} (bytes changed on disk or in a copy; got {actual}, expected {Info.Sha256}). Prepare it again.");
        return new TokenFileVerification(Path, bytes, clock.Elapsed.TotalSeconds, actual);
    }

    /// <summary>Opens <paramref name="path"/> (size and sidecar checks, no id scan) and runs <see cref="Verify()"/>.</summary>
    public static TokenFileVerification Verify(string path)
    {
        using var file = Open(path, checkIds: false);
        return file.Verify();
    }

    static long MaxOf<T>(ReadOnlySpan<T> s) where T : unmanaged, INumber<T>, IMinMaxValue<T>
    {
        var acc = Vector<T>.Zero;
        int i = 0;
        for (; i + Vector<T>.Count <= s.Length; i += Vector<T>.Count)
            acc = Vector.Max(acc, new Vector<T>(s.Slice(i)));
        T m = T.Zero;
        for (int k = 0; k < Vector<T>.Count; k++) m = T.Max(m, acc[k]);
        for (; i < s.Length; i++) m = T.Max(m, s[i]);
        return long.CreateTruncating(m);
    }

    /// <summary>The id at <paramref name="index"/> as stored, its block not verified (the id scan reports it, whatever its block holds).</summary>
    long Raw(long index) => _wide ? ((uint*)_base)[index] : ((ushort*)_base)[index];

    /// <summary>The id at <paramref name="index"/>.</summary>
    public int this[long index]
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if ((ulong)index >= (ulong)Count) throw new ArgumentOutOfRangeException(nameof(index), $"index {index} is outside [0, {Count}) of {Path}.");
            int width = _wide ? 4 : 2;
            Blocks?.EnsureVerified(index * width, (index + 1) * width);
            return _wide ? (int)((uint*)_base)[index] : ((ushort*)_base)[index];
        }
    }

    /// <summary>Copies ids [start, start + dest.Length) into <paramref name="dest"/> as int64.</summary>
    public void CopyTo(long start, Span<long> dest)
    {
        ObjectDisposedException.ThrowIf(_disposed, this); // the mapping is gone: reading it would fault
        if (start < 0 || start + dest.Length > Count)
            throw new ArgumentOutOfRangeException(nameof(start), $"ids [{start}, {start + dest.Length}) are outside [0, {Count}) of {Path}.");
        int width = _wide ? 4 : 2;
        Blocks?.EnsureVerified(start * width, (start + dest.Length) * width); // before any id of a damaged block is handed out
        if (_wide)
        {
            uint* p = (uint*)_base + start;
            for (int i = 0; i < dest.Length; i++) dest[i] = p[i];
        }
        else
        {
            ushort* p = (ushort*)_base + start;
            for (int i = 0; i < dest.Length; i++) dest[i] = p[i];
        }
    }

    /// <summary>
    /// Next-token windows: row r of <paramref name="x"/> is ids [s, s + T) and of <paramref name="y"/> ids
    /// [s + 1, s + T + 1), with s = <paramref name="starts"/>[r] and T = <paramref name="contextLength"/>;
    /// x and y are row-major (starts.Length x T).
    /// </summary>
    public void CopyWindows(ReadOnlySpan<long> starts, int contextLength, Span<long> x, Span<long> y)
    {
        int t = contextLength;
        if (x.Length != starts.Length * t || y.Length != starts.Length * t)
            throw new ArgumentException($"x and y must hold {starts.Length} x {t} ids.");
        Span<long> window = t < 1024 ? stackalloc long[t + 1] : new long[t + 1];
        for (int r = 0; r < starts.Length; r++)
        {
            CopyTo(starts[r], window);
            window[..t].CopyTo(x.Slice(r * t, t));
            window[1..].CopyTo(y.Slice(r * t, t));
        }
    }

    /// <summary><see cref="CopyWindows"/> into new int64 tensors X and Y of shape (starts.Length, T).</summary>
    public (TorchSharp.torch.Tensor X, TorchSharp.torch.Tensor Y) Windows(ReadOnlySpan<long> starts, int contextLength)
    {
        var x = new long[starts.Length * contextLength];
        var y = new long[starts.Length * contextLength];
        CopyWindows(starts, contextLength, x, y);
        // Host batches: the trainer copies them to its device (Devices.ToDevice).
        return (TorchSharp.torch.tensor(x, [starts.Length, contextLength], device: TorchSharp.torch.CPU),
                TorchSharp.torch.tensor(y, [starts.Length, contextLength], device: TorchSharp.torch.CPU));
    }

    /// <summary>What a run's config.json records about its data: path, identity, tokenizer and split sizes.</summary>
    public System.Text.Json.Nodes.JsonObject Describe() => new()
    {
        ["token_file"] = System.IO.Path.GetFullPath(Path),
        ["identity"] = Identity,
        ["tokenizer"] = System.Text.Json.Nodes.JsonNode.Parse(Tokenizer.ToJson()),
        ["train_tokens"] = TrainTokens,
        ["val_tokens"] = ValTokens,
    };

    /// <summary>Ids [start, start + count) as an int array (for decoding).</summary>
    public int[] Read(long start, int count)
    {
        var longs = new long[count];
        CopyTo(start, longs);
        return Array.ConvertAll(longs, x => (int)x);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}

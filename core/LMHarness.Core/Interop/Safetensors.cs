using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LMHarness.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Interop;

/// <summary>
/// Reader and writer of the safetensors format (Hugging Face, https://github.com/huggingface/safetensors):
/// an 8-byte little-endian header length N, N bytes of UTF-8 JSON
/// <c>{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}</c> padded with spaces
/// to a multiple of 8, then the raw little-endian tensor bytes, offsets relative to the end of the header.
/// Reading is strict and bounded: every inconsistency (truncation, a header length past the file, bad or duplicated
/// JSON keys, non-integer or overflowing shapes and offsets, unknown dtypes, offsets out of range, overlapping or
/// leaving gaps, a byte range that does not match dtype x shape) is one <see cref="InvalidDataException"/> naming the
/// file and the problem, and nothing is allocated beyond the file's own size.
/// Files this writer makes carry <c>__metadata__.lmharness_sha256</c>: the SHA-256 of the tensors' names, dtypes,
/// shapes and offsets, the other metadata and every data byte (<see cref="Checksum"/>); <see cref="Load"/> verifies it
/// when present. Other files (from the Hub, older exports) have none and get the structural checks only. Writing goes
/// through <see cref="AtomicFile"/>, so a half-written file is never taken as complete.
/// </summary>
public static class Safetensors
{
    const string MetadataKey = "__metadata__";
    /// <summary>The metadata key holding the checksum of a file this writer made (lowercase hex SHA-256).</summary>
    public const string ChecksumKey = "lmharness_sha256";
    // The reference implementation refuses headers over 100 MB; a larger value is corruption, not a model.
    const long MaxHeaderBytes = 100_000_000;

    /// <summary>Writes tensors in the given order with string metadata, plus the checksum.</summary>
    public static void Save(string path, IReadOnlyList<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors writing assumes a little-endian host");
        if (metadata.ContainsKey(ChecksumKey)) throw new ArgumentException($"metadata key '{ChecksumKey}' is written by Save itself");
        var names = new HashSet<string>();
        foreach (var (name, _) in tensors)
        {
            if (name == MetadataKey) throw new ArgumentException($"'{MetadataKey}' is reserved for metadata and cannot name a tensor");
            if (!names.Add(name)) throw new ArgumentException($"tensor name '{name}' appears twice");
        }

        var cpu = new List<Tensor>();
        try
        {
            var entries = new List<SafetensorsEntry>();
            long offset = 0;
            foreach (var (name, t) in tensors)
            {
                var c = t.detach().cpu().contiguous();
                cpu.Add(c);
                long bytes = c.numel() * c.ElementSize;
                entries.Add(new SafetensorsEntry(name, SafetensorsDType.FromTorch(c.dtype), c.shape, offset, offset + bytes));
                offset += bytes;
            }
            var meta = new Dictionary<string, string>(metadata);
            using (var hash = Checksum(entries, metadata))
            {
                foreach (var c in cpu) if (c.numel() > 0) hash.AppendData(c.bytes);
                meta[ChecksumKey] = ContentHash.Hex(hash.GetHashAndReset());
            }

            // __metadata__ first, as the reference writer puts it.
            var header = new JsonObject { [MetadataKey] = new JsonObject(meta.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))) };
            foreach (var e in entries)
                header[e.Name] = new JsonObject
                {
                    ["dtype"] = e.DType,
                    ["shape"] = new JsonArray(e.Shape.Select(s => (JsonNode)JsonValue.Create(s)).ToArray()),
                    ["data_offsets"] = new JsonArray(JsonValue.Create(e.Begin), JsonValue.Create(e.End)),
                };
            var json = Encoding.UTF8.GetBytes(header.ToJsonString());
            int padded = (json.Length + 7) / 8 * 8;   // aligned data lets readers memory-map tensors in place
            var headerBytes = new byte[padded];
            Array.Fill(headerBytes, (byte)' ');
            json.CopyTo(headerBytes, 0);

            AtomicFile.Write(path, fs =>
            {
                var len = new byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
                fs.Write(len);
                fs.Write(headerBytes);
                foreach (var c in cpu) if (c.numel() > 0) fs.Write(c.bytes);
            });
        }
        finally
        {
            foreach (var c in cpu) c.Dispose();
        }
    }

    /// <summary>Writes tensors in the given order without metadata (but with the checksum).</summary>
    public static void Save(string path, IReadOnlyList<KeyValuePair<string, Tensor>> tensors) =>
        Save(path, tensors, new Dictionary<string, string>());

    /// <summary>Writes tensors sorted by name (a deterministic byte layout) with string metadata.</summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string> metadata) =>
        Save(path, tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList(), metadata);

    /// <summary>Writes tensors sorted by name without metadata.</summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors) =>
        Save(path, tensors, new Dictionary<string, string>());

    /// <summary>
    /// A SHA-256 primed with what the header says (each tensor's name, dtype, shape and offsets in data order, and the
    /// metadata other than the checksum, sorted by key, as one JSON document, length-prefixed); append the data
    /// section's bytes to finish it. Whitespace and key order in the stored header do not change it.
    /// </summary>
    static IncrementalHash Checksum(IReadOnlyList<SafetensorsEntry> entries, IReadOnlyDictionary<string, string> metadata)
    {
        var described = JsonSerializer.SerializeToUtf8Bytes(new
        {
            tensors = entries.Select(e => new object[] { e.Name, e.DType, e.Shape, e.Begin, e.End }),
            metadata = metadata.Where(kv => kv.Key != ChecksumKey).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => new[] { kv.Key, kv.Value }),
        });
        var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(length, described.Length);
        hash.AppendData(length);
        hash.AppendData(described);
        return hash;
    }

    /// <summary>Parses and validates the header of a safetensors file without reading tensor data (so without the checksum).</summary>
    public static SafetensorsHeader ReadHeader(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"safetensors file not found: {path}", path);
        using var fs = File.OpenRead(path);
        return ReadHeader(fs, path);
    }

    static string Bad(string path, string problem) => $"{path} is not a valid safetensors file: {problem}. Re-export or re-download it.";

    static SafetensorsHeader ReadHeader(FileStream fs, string path)
    {
        long fileLength = fs.Length;
        if (fileLength < 8) throw new InvalidDataException(Bad(path, $"it is {fileLength} bytes long, shorter than the 8-byte header length (truncated)"));
        Span<byte> lenBytes = stackalloc byte[8];
        fs.ReadExactly(lenBytes);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        if (n > (ulong)MaxHeaderBytes) throw new InvalidDataException(Bad(path, $"header length {n} exceeds {MaxHeaderBytes} bytes (wrong header or not a safetensors file)"));
        if ((long)n > fileLength - 8) throw new InvalidDataException(Bad(path, $"header length {n} runs past the end of the file ({fileLength} bytes; truncated)"));
        var json = new byte[n];
        fs.ReadExactly(json);
        // The JSON reader checks UTF-8 only when a string is read, and then throws InvalidOperationException: check all here.
        if (!System.Text.Unicode.Utf8.IsValid(json)) throw new InvalidDataException(Bad(path, "the header is not valid UTF-8"));

        JsonObject root;
        try
        {
            // Duplicate keys are refused: which of two entries for one tensor is meant is anyone's guess.
            root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }) as JsonObject
                   ?? throw new InvalidDataException(Bad(path, "the header is not a JSON object"));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException(Bad(path, $"the header is not valid JSON ({e.Message})"), e);
        }

        long dataStart = 8 + (long)n, dataLength = fileLength - dataStart;
        var metadata = new Dictionary<string, string>();
        var entries = new List<SafetensorsEntry>();
        foreach (var (name, node) in root)
        {
            if (name == MetadataKey)
            {
                if (node is not JsonObject meta) throw new InvalidDataException(Bad(path, $"'{MetadataKey}' must be an object of strings"));
                foreach (var (k, v) in meta)
                    metadata[k] = v is JsonValue jv && jv.TryGetValue<string>(out var s) ? s : throw new InvalidDataException(Bad(path, $"metadata value '{k}' is not a string"));
                continue;
            }
            entries.Add(ReadEntry(path, name, node, dataLength));
        }

        entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long cursor = 0;
        foreach (var e in entries)
        {
            if (e.Begin < cursor)
                throw new InvalidDataException(Bad(path, $"tensor '{e.Name}' bytes [{e.Begin}, {e.End}) overlap the previous tensor (which ends at {cursor})"));
            if (e.Begin > cursor)
                throw new InvalidDataException(Bad(path, $"{e.Begin - cursor} unclaimed bytes before tensor '{e.Name}' at offset {cursor}"));
            cursor = e.End;
        }
        if (cursor != dataLength)
            throw new InvalidDataException(Bad(path, $"the data section holds {dataLength} bytes but the tensors claim {cursor}"));
        // A flip inside the key's name would otherwise drop the checksum and let other damage through unverified.
        if (metadata.Keys.FirstOrDefault(k => k != ChecksumKey && k.Length == ChecksumKey.Length && k.Zip(ChecksumKey).Count(p => p.First != p.Second) <= 4) is { } near)
            throw new InvalidDataException(Bad(path, $"metadata key '{near}' is a damaged '{ChecksumKey}'"));
        if (metadata.TryGetValue(ChecksumKey, out var sum) && !ContentHash.IsHex(sum))
            throw new InvalidDataException(Bad(path, $"its {ChecksumKey} '{sum}' is not 64 lowercase hex digits"));
        return new SafetensorsHeader(entries, metadata, dataStart);
    }

    /// <summary>One tensor's record: {"dtype": known name, "shape": [ints >= 0], "data_offsets": [begin, end]} within the data section, whose byte range is dtype x shape.</summary>
    static SafetensorsEntry ReadEntry(string path, string name, JsonNode? node, long dataLength)
    {
        string Need() => $"tensor '{name}' needs {{\"dtype\": string, \"shape\": [ints], \"data_offsets\": [begin, end]}}";
        if (node is not JsonObject o) throw new InvalidDataException(Bad(path, Need()));
        if (o["dtype"] is not JsonValue dv || !dv.TryGetValue<string>(out var dtype)) throw new InvalidDataException(Bad(path, Need() + " (dtype is not a string)"));
        if (!SafetensorsDType.IsKnown(dtype)) throw new InvalidDataException(Bad(path, $"tensor '{name}' has unknown dtype '{dtype}'"));
        var shape = Integers(o["shape"]) ?? throw new InvalidDataException(Bad(path, Need() + " (shape is not a list of integers)"));
        var offs = Integers(o["data_offsets"]) ?? throw new InvalidDataException(Bad(path, Need() + " (data_offsets is not a list of integers)"));
        if (offs.Length != 2) throw new InvalidDataException(Bad(path, $"tensor '{name}' data_offsets must be [begin, end]"));
        if (shape.Any(s => s < 0)) throw new InvalidDataException(Bad(path, $"tensor '{name}' has a negative dimension [{string.Join(", ", shape)}]"));
        if (offs[0] < 0 || offs[1] < offs[0])
            throw new InvalidDataException(Bad(path, $"tensor '{name}' offsets [{offs[0]}, {offs[1]}) are not an ascending range"));
        if (offs[1] > dataLength)
            throw new InvalidDataException(Bad(path, $"tensor '{name}' offsets [{offs[0]}, {offs[1]}) are outside the data section of {dataLength} bytes (truncated file or wrong offsets)"));
        var e = new SafetensorsEntry(name, dtype, shape, offs[0], offs[1]);
        long expected;
        try { expected = checked(e.ElementCount * SafetensorsDType.SizeOf(dtype)); }
        catch (OverflowException) { expected = -1; }
        if (expected != e.ByteLength)
            throw new InvalidDataException(Bad(path, $"tensor '{name}' is {dtype} of shape [{string.Join(", ", shape)}] = {(expected < 0 ? "more than 2^63" : expected.ToString())} bytes, but its offsets span {e.ByteLength} bytes (shape/dtype mismatch)"));
        return e;
    }

    static long[]? Integers(JsonNode? node)
    {
        if (node is not JsonArray a) return null;
        var values = new long[a.Count];
        for (var i = 0; i < a.Count; i++)
            if (a[i] is not JsonValue v || v.GetValueKind() != JsonValueKind.Number || !v.TryGetValue(out values[i])) return null;
        return values;
    }

    /// <summary>
    /// Reads every tensor into CPU tensors of the stored dtype, keyed by name. When the file carries the checksum of
    /// this writer it is verified over the whole file, and a mismatch is refused naming the file before anything is returned.
    /// </summary>
    public static Dictionary<string, Tensor> Load(string path)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors reading assumes a little-endian host");
        if (!File.Exists(path)) throw new FileNotFoundException($"safetensors file not found: {path}", path);
        using var fs = File.OpenRead(path);
        var header = ReadHeader(fs, path);
        var hash = header.Checksum is null ? null : Checksum(header.Entries, header.Metadata);
        var result = new Dictionary<string, Tensor>();
        try
        {
            foreach (var e in header.Entries) // data order, contiguous: together they are the whole data section
            {
                var t = torch.empty(e.Shape, SafetensorsDType.ToTorch(e.DType), device: CPU); // read into host memory; callers move it
                result[e.Name] = t;
                if (e.ByteLength == 0) continue;
                var buffer = new byte[e.ByteLength];
                fs.Position = header.DataStart + e.Begin;
                fs.ReadExactly(buffer);
                hash?.AppendData(buffer);
                t.bytes = buffer;
            }
            if (hash is not null && ContentHash.Hex(hash.GetHashAndReset()) != header.Checksum)
                throw new InvalidDataException(Bad(path, $"its content does not match its {ChecksumKey} checksum (bytes changed on disk or in a copy)"));
            return result;
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
        finally
        {
            hash?.Dispose();
        }
    }
}

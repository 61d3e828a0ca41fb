using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

using LMHarness.IO;

namespace LMHarness.Interop;

/// <summary>
/// Reader and writer of the safetensors format (Hugging Face, https://github.com/huggingface/safetensors):
/// an 8-byte little-endian header length N, N bytes of UTF-8 JSON
/// <c>{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}</c> padded with spaces
/// to a multiple of 8, then the raw little-endian tensor bytes, offsets relative to the end of the header.
/// Reading is strict: every inconsistency (truncation, bad JSON, offsets out of range or overlapping, a byte range
/// that does not match dtype x shape) is one clear error naming the file and the problem.
/// Writing goes to a temp name and is renamed into place, so a half-written file is never taken as complete.
/// </summary>
public static class Safetensors
{
    const string MetadataKey = "__metadata__";
    // The reference implementation refuses headers over 100 MB; a larger value is corruption, not a model.
    const long MaxHeaderBytes = 100_000_000;

    /// <summary>Writes tensors in the given order with string metadata.</summary>
    public static void Save(string path, IReadOnlyList<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors writing assumes a little-endian host");
        var names = new HashSet<string>();
        foreach (var (name, _) in tensors)
        {
            if (name == MetadataKey) throw new ArgumentException($"'{MetadataKey}' is reserved for metadata and cannot name a tensor");
            if (!names.Add(name)) throw new ArgumentException($"tensor name '{name}' appears twice");
        }

        var header = new JsonObject();
        if (metadata.Count > 0)
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata) meta[k] = v;
            header[MetadataKey] = meta;
        }
        long offset = 0;
        var cpu = new List<Tensor>();
        try
        {
            foreach (var (name, t) in tensors)
            {
                var c = t.detach().cpu().contiguous();
                cpu.Add(c);
                long bytes = c.numel() * c.ElementSize;
                header[name] = new JsonObject
                {
                    ["dtype"] = SafetensorsDType.FromTorch(c.dtype),
                    ["shape"] = new JsonArray(c.shape.Select(s => (JsonNode)JsonValue.Create(s)).ToArray()),
                    ["data_offsets"] = new JsonArray(JsonValue.Create(offset), JsonValue.Create(offset + bytes)),
                };
                offset += bytes;
            }

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

    /// <summary>Writes tensors in the given order without metadata.</summary>
    public static void Save(string path, IReadOnlyList<KeyValuePair<string, Tensor>> tensors) =>
        Save(path, tensors, new Dictionary<string, string>());

    /// <summary>Writes tensors sorted by name (a deterministic byte layout) with string metadata.</summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string> metadata) =>
        Save(path, tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList(), metadata);

    /// <summary>Writes tensors sorted by name without metadata.</summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors) =>
        Save(path, tensors, new Dictionary<string, string>());

    /// <summary>Parses and validates the header of a safetensors file without reading tensor data.</summary>
    public static SafetensorsHeader ReadHeader(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"safetensors file not found: {path}", path);
        using var fs = File.OpenRead(path);
        return ReadHeader(fs, path);
    }

    static SafetensorsHeader ReadHeader(FileStream fs, string path)
    {
        long fileLength = fs.Length;
        string Bad(string problem) => $"{path} is not a valid safetensors file: {problem}. Re-export or re-download it.";
        if (fileLength < 8) throw new InvalidDataException(Bad($"it is {fileLength} bytes long, shorter than the 8-byte header length (truncated)"));
        Span<byte> lenBytes = stackalloc byte[8];
        fs.ReadExactly(lenBytes);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        if (n > (ulong)MaxHeaderBytes) throw new InvalidDataException(Bad($"header length {n} exceeds {MaxHeaderBytes} bytes (wrong header or not a safetensors file)"));
        if ((long)n > fileLength - 8) throw new InvalidDataException(Bad($"header length {n} runs past the end of the file ({fileLength} bytes; truncated)"));
        var json = new byte[n];
        fs.ReadExactly(json);

        JsonObject root;
        try
        {
            root = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException(Bad("the header is not a JSON object"));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException(Bad($"the header is not valid JSON ({e.Message})"), e);
        }

        long dataStart = 8 + (long)n, dataLength = fileLength - dataStart;
        var metadata = new Dictionary<string, string>();
        var entries = new List<SafetensorsEntry>();
        foreach (var (name, node) in root)
        {
            if (name == MetadataKey)
            {
                if (node is not JsonObject meta) throw new InvalidDataException(Bad($"'{MetadataKey}' must be an object of strings"));
                foreach (var (k, v) in meta)
                    metadata[k] = v is JsonValue jv && jv.TryGetValue<string>(out var s) ? s : throw new InvalidDataException(Bad($"metadata value '{k}' is not a string"));
                continue;
            }
            try
            {
                var o = (JsonObject)node!;
                var dtype = (string)o["dtype"]!;
                var shape = ((JsonArray)o["shape"]!).Select(x => (long)x!).ToArray();
                var offs = ((JsonArray)o["data_offsets"]!).Select(x => (long)x!).ToArray();
                if (!SafetensorsDType.IsKnown(dtype)) throw new InvalidDataException(Bad($"tensor '{name}' has unknown dtype '{dtype}'"));
                if (offs.Length != 2) throw new InvalidDataException(Bad($"tensor '{name}' data_offsets must be [begin, end]"));
                if (shape.Any(s => s < 0)) throw new InvalidDataException(Bad($"tensor '{name}' has a negative dimension [{string.Join(", ", shape)}]"));
                var e = new SafetensorsEntry(name, dtype, shape, offs[0], offs[1]);
                if (e.Begin < 0 || e.End < e.Begin || e.End > dataLength)
                    throw new InvalidDataException(Bad($"tensor '{name}' offsets [{e.Begin}, {e.End}) are outside the data section of {dataLength} bytes (truncated file or wrong offsets)"));
                long expected = e.ElementCount * SafetensorsDType.SizeOf(dtype);
                if (expected != e.ByteLength)
                    throw new InvalidDataException(Bad($"tensor '{name}' is {dtype} of shape [{string.Join(", ", shape)}] = {expected} bytes, but its offsets span {e.ByteLength} bytes (shape/dtype mismatch)"));
                entries.Add(e);
            }
            catch (Exception ex) when (ex is InvalidCastException or NullReferenceException or ArgumentNullException or FormatException or InvalidOperationException)
            {
                throw new InvalidDataException(Bad($"tensor '{name}' needs {{\"dtype\": string, \"shape\": [ints], \"data_offsets\": [begin, end]}} ({ex.Message})"), ex);
            }
        }

        entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long cursor = 0;
        foreach (var e in entries)
        {
            if (e.Begin < cursor)
                throw new InvalidDataException(Bad($"tensor '{e.Name}' bytes [{e.Begin}, {e.End}) overlap the previous tensor (which ends at {cursor})"));
            if (e.Begin > cursor)
                throw new InvalidDataException(Bad($"{e.Begin - cursor} unclaimed bytes before tensor '{e.Name}' at offset {cursor}"));
            cursor = e.End;
        }
        if (cursor != dataLength)
            throw new InvalidDataException(Bad($"the data section holds {dataLength} bytes but the tensors claim {cursor}"));
        return new SafetensorsHeader(entries, metadata, dataStart);
    }

    /// <summary>Reads every tensor into CPU tensors of the stored dtype, keyed by name.</summary>
    public static Dictionary<string, Tensor> Load(string path)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors reading assumes a little-endian host");
        if (!File.Exists(path)) throw new FileNotFoundException($"safetensors file not found: {path}", path);
        using var fs = File.OpenRead(path);
        var header = ReadHeader(fs, path);
        var result = new Dictionary<string, Tensor>();
        foreach (var e in header.Entries)
        {
            var t = torch.empty(e.Shape, SafetensorsDType.ToTorch(e.DType), device: CPU); // read into host memory; callers move it
            if (e.ByteLength > 0)
            {
                var buffer = new byte[e.ByteLength];
                fs.Position = header.DataStart + e.Begin;
                fs.ReadExactly(buffer);
                t.bytes = buffer;
            }
            result[e.Name] = t;
        }
        return result;
    }
}

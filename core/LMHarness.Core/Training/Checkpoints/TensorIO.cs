using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Training.Checkpoints;

/// <summary>
/// Tensors in TorchSharp's binary tensor format (<c>Tensor.Save(BinaryWriter)</c>): the dtype, the number of
/// dimensions and each dimension as unsigned LEB128, then the raw little-endian element bytes.
/// </summary>
internal static class TensorIO
{
    public static void Write(BinaryWriter w, IReadOnlyList<Tensor> tensors)
    {
        w.Write(tensors.Count);
        foreach (var t in tensors) t.Save(w);
    }

    /// <summary>
    /// Reads into existing tensors of the same shapes; throws naming the index on a shape mismatch, which is found from
    /// the stored header before anything is allocated (a damaged shape must not become an allocation).
    /// </summary>
    public static void ReadInto(BinaryReader r, IReadOnlyList<Tensor> tensors, string what)
    {
        var n = r.ReadInt32();
        if (n != tensors.Count)
            throw new InvalidDataException($"{what}: the checkpoint holds {n} tensors but this run has {tensors.Count}; it was written for a different model or optimizer.");
        foreach (var t in tensors)
        {
            var start = r.BaseStream.Position;
            var (_, shape, _) = ReadHeader(r);
            if (!shape.SequenceEqual(t.shape))
                throw new InvalidDataException($"{what}: tensor shape [{string.Join(",", shape)}] in the checkpoint, [{string.Join(",", t.shape)}] here.");
            r.BaseStream.Position = start;
            using var loaded = TensorExtensionMethods.Load(r);
            using (torch.no_grad()) t.copy_(loaded);
        }
    }

    /// <summary>
    /// Reads one tensor, refusing before any allocation a dtype it does not know, more than 8 dimensions, or a size
    /// beyond the <paramref name="available"/> bytes left in its section: a damaged header must never turn into a
    /// multi-gigabyte allocation. Throws <see cref="InvalidDataException"/> (message without the file name).
    /// </summary>
    public static Tensor ReadChecked(BinaryReader r, long available)
    {
        var (code, shape, bytes) = ReadBounded(r, available);
        var t = torch.empty(shape, (ScalarType)code, device: CPU); // read into host memory, as every load copies from it
        if (bytes > 0) t.bytes = r.ReadBytes((int)bytes);
        return t;
    }

    /// <summary>
    /// Reads one tensor's header and skips its data: its dtype, shape and byte count, checked as
    /// <see cref="ReadChecked"/> checks them. How a model config is compared with a checkpoint before anything is built.
    /// </summary>
    public static (long DtypeCode, long[] Shape, long Bytes) Skip(BinaryReader r, long available)
    {
        var header = ReadBounded(r, available);
        r.BaseStream.Seek(header.Bytes, SeekOrigin.Current);
        return header;
    }

    static (long DtypeCode, long[] Shape, long Bytes) ReadBounded(BinaryReader r, long available)
    {
        var start = r.BaseStream.Position;
        var header = ReadHeader(r);
        var left = available - (r.BaseStream.Position - start);
        if (header.Bytes > left || header.Bytes > Array.MaxLength)
            throw new InvalidDataException($"a tensor of shape [{string.Join(", ", header.Shape)}] needs {header.Bytes} bytes but {left} remain");
        return header;
    }

    /// <summary>The next tensor's dtype code, shape and data size (long.MaxValue past 2^63 bytes); refuses an unknown dtype or more than 8 dimensions.</summary>
    static (long DtypeCode, long[] Shape, long Bytes) ReadHeader(BinaryReader r)
    {
        var code = ReadLeb128(r);
        if (!ElementSizes.TryGetValue(code, out var elementSize))
            throw new InvalidDataException($"unknown tensor dtype code {code}");
        var rank = ReadLeb128(r);
        if (rank > 8) throw new InvalidDataException($"a tensor with {rank} dimensions");
        var shape = new long[rank];
        long bytes = elementSize;
        for (var i = 0; i < rank; i++)
        {
            shape[i] = ReadLeb128(r);
            bytes = shape[i] == 0 ? 0 : bytes <= long.MaxValue / shape[i] ? bytes * shape[i] : long.MaxValue;
        }
        return (code, shape, bytes);
    }

    static readonly Dictionary<long, int> ElementSizes = new()
    {
        [(long)ScalarType.Byte] = 1, [(long)ScalarType.Int8] = 1, [(long)ScalarType.Int16] = 2, [(long)ScalarType.Int32] = 4,
        [(long)ScalarType.Int64] = 8, [(long)ScalarType.Float16] = 2, [(long)ScalarType.Float32] = 4, [(long)ScalarType.Float64] = 8,
        [(long)ScalarType.Bool] = 1, [(long)ScalarType.BFloat16] = 2,
    };

    /// <summary>Unsigned LEB128 (7 bits a byte, low first), at most 9 bytes: more is a damaged length, not a tensor.</summary>
    static long ReadLeb128(BinaryReader r)
    {
        long value = 0;
        for (var i = 0; i < 9; i++)
        {
            var b = r.ReadByte();
            value |= (long)(b & 0x7f) << (7 * i);
            if ((b & 0x80) == 0) return value;
        }
        throw new InvalidDataException("a tensor header number longer than 9 bytes");
    }
}

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

    /// <summary>Reads into existing tensors of the same shapes; throws naming the index on a shape mismatch.</summary>
    public static void ReadInto(BinaryReader r, IReadOnlyList<Tensor> tensors, string what)
    {
        var n = r.ReadInt32();
        if (n != tensors.Count)
            throw new InvalidDataException($"{what}: the checkpoint holds {n} tensors but this run has {tensors.Count}; it was written for a different model or optimizer.");
        foreach (var t in tensors)
        {
            using var loaded = TensorExtensionMethods.Load(r);
            if (!loaded.shape.SequenceEqual(t.shape))
                throw new InvalidDataException($"{what}: tensor shape [{string.Join(",", loaded.shape)}] in the checkpoint, [{string.Join(",", t.shape)}] here.");
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
        var start = r.BaseStream.Position;
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
        var left = available - (r.BaseStream.Position - start);
        if (bytes > left || bytes > Array.MaxLength)
            throw new InvalidDataException($"a tensor of shape [{string.Join(", ", shape)}] needs {bytes} bytes but {left} remain");
        var t = torch.empty(shape, (ScalarType)code, device: CPU); // read into host memory, as every load copies from it
        if (bytes > 0) t.bytes = r.ReadBytes((int)bytes);
        return t;
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

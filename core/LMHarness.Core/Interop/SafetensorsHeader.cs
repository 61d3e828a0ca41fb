using LMHarness.Model;
using TorchSharp;

namespace LMHarness.Interop;

/// <summary>
/// One tensor's record in a safetensors header: its dtype name (<c>F32</c>, <c>BF16</c>, ...), shape, and byte range
/// [<see cref="Begin"/>, <see cref="End"/>) relative to the start of the data section.
/// </summary>
public sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Begin, long End)
{
    public long ByteLength => End - Begin;
    /// <summary>The product of the dimensions; throws <see cref="OverflowException"/> past 2^63.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => checked(a * b));
}

/// <summary>
/// The parsed header of a safetensors file: entries in data order, the free-form string metadata
/// (<c>__metadata__</c>), and the absolute file offset where the data section starts (8 + header length).
/// </summary>
public sealed record SafetensorsHeader(IReadOnlyList<SafetensorsEntry> Entries, IReadOnlyDictionary<string, string> Metadata, long DataStart)
{
    /// <summary>The checksum this harness's writer stores (<see cref="Safetensors.ChecksumKey"/>), or null for files without one.</summary>
    public string? Checksum => Metadata.TryGetValue(Safetensors.ChecksumKey, out var s) ? s : null;

    /// <summary>The tensors as <see cref="WeightsFit"/> compares them, names passed through <paramref name="rename"/> when given.</summary>
    public IReadOnlyList<DeclaredTensor> Declared(Func<string, string>? rename = null) =>
        Entries.Select(e => new DeclaredTensor(rename is null ? e.Name : rename(e.Name), e.Shape, e.ByteLength)).ToList();

    public SafetensorsEntry this[string name] =>
        Entries.FirstOrDefault(e => e.Name == name) ?? throw new KeyNotFoundException($"safetensors has no tensor named '{name}'");
}

/// <summary>The element types of the safetensors format and their TorchSharp equivalents.</summary>
public static class SafetensorsDType
{
    static readonly (string Name, torch.ScalarType Type, int Size)[] Table =
    [
        ("F64", torch.ScalarType.Float64, 8), ("F32", torch.ScalarType.Float32, 4),
        ("F16", torch.ScalarType.Float16, 2), ("BF16", torch.ScalarType.BFloat16, 2),
        ("I64", torch.ScalarType.Int64, 8), ("I32", torch.ScalarType.Int32, 4),
        ("I16", torch.ScalarType.Int16, 2), ("I8", torch.ScalarType.Int8, 1),
        ("U8", torch.ScalarType.Byte, 1), ("BOOL", torch.ScalarType.Bool, 1),
    ];

    public static bool IsKnown(string name) => Table.Any(t => t.Name == name);

    public static int SizeOf(string name) => Find(name).Size;

    public static torch.ScalarType ToTorch(string name) => Find(name).Type;

    public static string FromTorch(torch.ScalarType type)
    {
        foreach (var t in Table) if (t.Type == type) return t.Name;
        throw new NotSupportedException($"tensor dtype {type} has no safetensors equivalent: convert it to float32, float16, bfloat16 or an integer type first");
    }

    static (string Name, torch.ScalarType Type, int Size) Find(string name)
    {
        foreach (var t in Table) if (t.Name == name) return t;
        throw new InvalidDataException($"unknown safetensors dtype '{name}' (known: {string.Join(", ", Table.Select(t => t.Name))})");
    }
}

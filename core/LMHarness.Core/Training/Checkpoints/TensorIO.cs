using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Training.Checkpoints;

/// <summary>Writes lists of tensors in TorchSharp's binary tensor format and reads them back in place (bit-exact).</summary>
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
}

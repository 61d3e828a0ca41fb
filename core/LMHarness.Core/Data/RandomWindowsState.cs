using System.Text.Json;
using LMHarness.Tokenizers;

namespace LMHarness.Data;

/// <summary>
/// Everything a <see cref="RandomWindows"/> needs to continue its exact sequence: the seed and how many batches it
/// has drawn (its generator is counter based, so there is no other state). Save it with a checkpoint.
/// </summary>
public sealed record RandomWindowsState(long Seed, long BatchesDrawn)
{
    public string ToJson() => JsonSerializer.Serialize(this, TokenizerIdentity.Json);
    public static RandomWindowsState FromJson(string json) =>
        JsonSerializer.Deserialize<RandomWindowsState>(json, TokenizerIdentity.Json) ?? throw new InvalidDataException("random-windows state JSON is empty (null)");
}

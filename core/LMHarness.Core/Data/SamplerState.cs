using System.Text.Json;
using LMHarness.Tokenizers;

namespace LMHarness.Data;

/// <summary>
/// Everything a <see cref="BatchSampler"/> needs to continue its exact sequence: the seed and how many batches it
/// has drawn (its generator is counter based, so there is no other state). Save it with a checkpoint.
/// </summary>
public sealed record SamplerState(long Seed, long BatchesDrawn)
{
    public string ToJson() => JsonSerializer.Serialize(this, TokenizerIdentity.Json);
    public static SamplerState FromJson(string json) =>
        JsonSerializer.Deserialize<SamplerState>(json, TokenizerIdentity.Json) ?? throw new InvalidDataException("sampler state JSON is empty (null)");
}

using System.Text.Json.Nodes;

namespace LMHarness.Tests.Interop;

/// <summary>One edit of a config: fields set to values, and whether a loader may accept it (it leaves every tensor's shape as it was).</summary>
sealed record ConfigEdit(string Label, IReadOnlyDictionary<string, JsonNode?> Fields, bool MayLoad)
{
    /// <summary>Writes the fields into <paramref name="config"/> (a null value writes JSON null).</summary>
    public void ApplyTo(JsonObject config)
    {
        foreach (var (field, value) in Fields) config[field] = value?.DeepClone();
    }
}

/// <summary>
/// The fuzz of config edits the loaders must refuse: every dimension field of a format set to zero, negative, off by one,
/// doubled, 64 times, large powers of two, int.MaxValue, past 2^31, 1e30, a fraction, and values of the wrong type (a
/// string, a bool, null, a list, an object); then every field at once at the sizes of issue 27's case.
/// </summary>
static class ConfigFuzz
{
    static IEnumerable<JsonNode?> Values(long original) =>
    [
        0, -1, int.MinValue, original + 1, original * 2, original * 64, 65536, 1 << 20, int.MaxValue, 4294967296L, 1e30, 3.5,
        "32", true, null, new JsonArray(original), new JsonObject { ["value"] = original },
    ];

    /// <summary>
    /// The edits of each field of <paramref name="original"/> in <paramref name="fields"/>, then <paramref name="huge"/> (all
    /// at once). <paramref name="mayLoad"/> says which (field, value) leave the shapes as they were (a RoPE model's
    /// context length has no tensor).
    /// </summary>
    public static IReadOnlyList<ConfigEdit> Edits(JsonObject original, IEnumerable<string> fields, IReadOnlyDictionary<string, JsonNode?> huge,
        Func<string, JsonNode?, bool> mayLoad)
    {
        var edits = new List<ConfigEdit>();
        foreach (var field in fields)
        {
            long value = original[field]!.GetValue<long>();
            foreach (var v in Values(value))
                edits.Add(new ConfigEdit($"{field} = {v?.ToJsonString() ?? "null"}", new Dictionary<string, JsonNode?> { [field] = v }, mayLoad(field, v)));
        }
        edits.Add(new ConfigEdit("issue 27's sizes: " + string.Join(", ", huge.Select(kv => $"{kv.Key} {kv.Value}")), huge, false));
        return edits;
    }

    /// <summary>True for an int in [1, 2^31): what a dimension field accepts.</summary>
    public static bool PositiveInt(JsonNode? v) =>
        v is JsonValue j && j.ToJsonString() is var text && text.All(char.IsDigit) && long.TryParse(text, out var l) && l is > 0 and <= int.MaxValue;
}

using System.Text.Json.Nodes;

namespace LMHarness.Config;

/// <summary>Field-by-field differences of two configs, as "training.max_steps: 500 -> 1000": what a refusal or a
/// comparison names instead of "the configs differ".</summary>
public static class ConfigDifference
{
    /// <summary>Differences of two JSON documents, each as "path: before -> after" (absent fields show as "(none)").</summary>
    public static IReadOnlyList<string> Between(JsonNode? before, JsonNode? after, string path = "")
    {
        var differences = new List<string>();
        Walk(before, after, path, differences);
        return differences;
    }

    /// <summary>Differences of two model configs, by field name.</summary>
    public static IReadOnlyList<string> Between(ModelConfig before, ModelConfig after) =>
        Between(JsonNode.Parse(before.ToJson()), JsonNode.Parse(after.ToJson()), "model");

    /// <summary>Differences of two training configs, by field name.</summary>
    public static IReadOnlyList<string> Between(TrainingConfig before, TrainingConfig after) =>
        Between(JsonNode.Parse(before.ToJson()), JsonNode.Parse(after.ToJson()), "training");

    static void Walk(JsonNode? a, JsonNode? b, string path, List<string> into)
    {
        if (a is JsonObject oa && b is JsonObject ob)
        {
            foreach (var key in oa.Select(p => p.Key).Union(ob.Select(p => p.Key)))
                Walk(oa[key], ob[key], path.Length == 0 ? key : $"{path}.{key}", into);
            return;
        }
        if (!JsonNode.DeepEquals(a, b))
            into.Add($"{path}: {Show(a)} -> {Show(b)}");
    }

    static string Show(JsonNode? n) => n is null ? "(none)" : n.ToJsonString();
}

using System.Text.Json;
using System.Text.Json.Nodes;
using LMHarness.Config;

namespace LMHarness.Runs;

/// <summary>
/// A run's config.json: what it trains (<see cref="Model"/>), how (<see cref="Training"/>), on what
/// (<see cref="Data"/>: the token file, its tokenizer and split sizes, and the random stream the batches follow),
/// and where it ran (<see cref="Environment"/>, informational only).
/// </summary>
public sealed record RunConfig(ModelConfig Model, TrainingConfig Training, JsonObject Data, JsonObject Environment)
{
    /// <summary>The token file the run trains on, when its data source records one.</summary>
    public string? TokenFile => Data["token_file"]?.GetValue<string>();

    /// <summary>The random stream of initial weights and batches ("harness" unless recorded otherwise).</summary>
    public string Stream => Data["stream"]?.GetValue<string>() ?? "harness";

    public string ToJson() => new JsonObject
    {
        ["model"] = JsonNode.Parse(Model.ToJson()),
        ["training"] = JsonNode.Parse(Training.ToJson()),
        ["data"] = Data.DeepClone(),
        ["environment"] = Environment.DeepClone(),
    }.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    static readonly string[] Sections = ["model", "training", "data", "environment"];

    /// <summary>
    /// Reads a config.json; every error names <paramref name="path"/> and the section at fault. Unknown keys, at the top
    /// and inside the configs, are refused naming them all; a value of the wrong type names its field and what it takes.
    /// </summary>
    public static RunConfig FromJson(string json, string path)
    {
        JsonObject doc;
        try { doc = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException($"{path} is not a JSON object."); }
        catch (JsonException e) { throw new InvalidDataException($"{path} is not valid JSON ({JsonErrors.Describe(e)}): restore it from the checkpoint's configs or start a new run folder.", e); }
        var unknown = doc.Select(kv => kv.Key).Where(k => !Sections.Contains(k)).ToList();
        if (unknown.Count > 0)
            throw new InvalidDataException($"{path} has unknown key(s) {string.Join(", ", unknown.Select(k => $"'{k}'"))}: remove them or fix their spelling. A run's config.json has {string.Join(", ", Sections)}.");
        JsonNode Section(string name) => doc[name] ?? throw new InvalidDataException($"{path} has no \"{name}\" section: it was not written by LMHarness training.");
        return new RunConfig(
            ModelConfig.FromJson(Section("model").ToJsonString(), $"{path}, section \"model\""),
            TrainingConfig.FromJson(Section("training").ToJsonString(), $"{path}, section \"training\""),
            Section("data") as JsonObject ?? throw new InvalidDataException($"{path}: \"data\" is not an object."),
            doc["environment"] as JsonObject ?? new JsonObject());
    }
}

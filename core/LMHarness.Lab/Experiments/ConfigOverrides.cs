using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using LMHarness.Config;

namespace LMHarness.Experiments;

/// <summary>
/// Sets fields of an immutable JSON-serialisable config record from <c>key = value</c> text, by the config's own
/// snake_case JSON names (so every field is a knob, with no list to keep in sync): <c>--n_layer 6</c>,
/// <c>--position rope</c>, <c>--attention_kinds [\"gqa\"]</c>. The result is deserialised and so re-validated.
/// </summary>
public static class ConfigOverrides
{
    /// <summary>
    /// Returns <paramref name="config"/> with every option whose key is one of its JSON fields applied, and the keys applied.
    /// Values are read as JSON when they parse as JSON (numbers, true/false, arrays, objects), else as strings.
    /// </summary>
    public static (T Config, IReadOnlyList<string> Applied) Apply<T>(T config, IReadOnlyDictionary<string, string> options, JsonSerializerOptions json)
    {
        var node = JsonSerializer.SerializeToNode(config, json)!.AsObject();
        var applied = new List<string>();
        foreach (var (key, text) in options)
        {
            if (!node.ContainsKey(key)) continue;
            node[key] = ParseValue(text);
            applied.Add(key);
        }
        if (applied.Count == 0) return (config, applied);
        try
        {
            var result = node.Deserialize<T>(json) ?? throw new InvalidDataException("null config");
            // Configs check themselves (ModelConfig.Validated, TrainingConfig.Validated): one error listing every problem.
            if (typeof(T).GetMethod("Validated", Type.EmptyTypes) is { } validated && validated.ReturnType == typeof(T))
            {
                try { result = (T)validated.Invoke(result, null)!; }
                catch (System.Reflection.TargetInvocationException e) when (e.InnerException is not null)
                {
                    throw new ArgumentException($"after {string.Join(", ", applied.Select(k => $"--{k} {options[k]}"))}: {e.InnerException.Message}", e.InnerException);
                }
            }
            return (result, applied);
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"cannot apply {string.Join(", ", applied.Select(k => $"--{k} {options[k]}"))} to {typeof(T).Name}: {e.Message}");
        }
    }

    /// <summary>
    /// A script's overrides: declares every field of <paramref name="config"/> as a knob of <paramref name="args"/> (its
    /// current value the default, for <c>--help</c> and the unknown-option check), then applies the options that name one.
    /// </summary>
    public static (T Config, IReadOnlyList<string> Applied) Apply<T>(T config, ScriptArgs args, JsonSerializerOptions json)
    {
        foreach (var (key, value) in JsonSerializer.SerializeToNode(config, json)!.AsObject())
            args.Knob(key, value is JsonValue v && v.TryGetValue<string>(out var text) ? text : value?.ToJsonString() ?? "null", typeof(T).Name);
        return Apply(config, args.Options, json);
    }

    static JsonNode? ParseValue(string text)
    {
        try { return JsonNode.Parse(text); }
        catch (JsonException) { return JsonValue.Create(text); }
    }

    /// <summary>All JSON field names of a config (the knobs <see cref="Apply{T}(T, IReadOnlyDictionary{string, string}, JsonSerializerOptions)"/> understands).</summary>
    public static IReadOnlyList<string> Fields<T>(T config, JsonSerializerOptions json) =>
        JsonSerializer.SerializeToNode(config, json)!.AsObject().Select(p => p.Key).ToList();

    static string Invariant(double v) => v.ToString(CultureInfo.InvariantCulture);
}

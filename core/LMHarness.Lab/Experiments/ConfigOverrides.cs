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
        var original = node.DeepClone().AsObject();
        foreach (var (name, derived) in ConfigJson.Derived(typeof(T), json))
            if (options.ContainsKey(name))
                throw new ArgumentException($"--{name} is derived ({derived.Formula}), not a knob: set {derived.Set} instead.");
        var applied = new List<string>();
        // Fields left out of the JSON while they hold their default (ModelConfig.Parametrization, TrainingConfig.Freeze) are knobs too.
        var types = ConfigJson.Values(config, json).ToDictionary(v => v.Name, v => v.Type);
        foreach (var (key, text) in options)
        {
            if (!types.TryGetValue(key, out var type)) continue;
            var value = ParseValue(text);
            // A list field given a bare word or comma-separated words (--attention_kinds gqa / gqa,mha) means that list.
            if (IsList(type) && value is not JsonArray)
                value = new JsonArray(text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(ParseValue).ToArray());
            node[key] = value;
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
            var key = applied.FirstOrDefault(k => e.Path is { } p && (p == "$." + k || p.StartsWith($"$.{k}[", StringComparison.Ordinal) || p.StartsWith($"$.{k}.", StringComparison.Ordinal)));
            var what = key is null ? string.Join(", ", applied.Select(k => $"--{k} {options[k]}")) : $"--{key} {options[key]}";
            var hint = key is not null && original[key] is JsonArray list
                ? $" Give a list as one word, words separated by commas, or JSON: --{key} {Example(list)} or --{key} '{list.ToJsonString()}'."
                : "";
            throw new ArgumentException($"cannot apply {what} to {typeof(T).Name}: {ConfigJson.Explain(e, node, typeof(T), json)}{hint}", e);
        }
    }

    /// <summary>
    /// A script's overrides: declares every field of <paramref name="config"/> as a knob of <paramref name="args"/> (its
    /// current value the default, for <c>--help</c> and the unknown-option check), then applies the options that name one.
    /// </summary>
    public static (T Config, IReadOnlyList<string> Applied) Apply<T>(T config, ScriptArgs args, JsonSerializerOptions json)
    {
        var derived = ConfigJson.Derived(typeof(T), json).ToDictionary(d => d.Name, d => d.Derived);
        var written = JsonSerializer.SerializeToNode(config, json)!.AsObject();
        var unwritten = ConfigJson.Values(config, json).Where(v => !written.ContainsKey(v.Name)).Select(v => new KeyValuePair<string, JsonNode?>(v.Name, v.Value));
        foreach (var (key, value) in written.Concat(unwritten))
            args.Knob(key, value is JsonValue v && v.TryGetValue<string>(out var text) ? text : value?.ToJsonString() ?? "none",
                derived.TryGetValue(key, out var d) ? $"derived, not a knob: {d.Formula}" : typeof(T).Name);
        return Apply(config, args.Options, json);
    }

    // The list's first element as a bare word, e.g. gqa for ["gqa"].
    static string Example(JsonNode list) => list is JsonArray { Count: > 0 } a && a[0] is JsonValue v && v.TryGetValue<string>(out var s) ? s : "a,b";

    static bool IsList(Type type) => type != typeof(string) && typeof(System.Collections.IEnumerable).IsAssignableFrom(Nullable.GetUnderlyingType(type) ?? type);

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

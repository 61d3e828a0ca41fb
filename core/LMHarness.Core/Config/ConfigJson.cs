using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace LMHarness.Config;

/// <summary>
/// Reads a config record (<see cref="ModelConfig"/>, <see cref="TrainingConfig"/>) from JSON a person may have edited,
/// with errors that name the file, the field and how to write it: unknown keys are refused, all of them at once (a
/// misspelt knob would otherwise be ignored silently), and a value of the wrong type says what the field takes.
/// Keys that were renamed (<see cref="Renamed"/>) are read under their old name too, so older files still load.
/// </summary>
public static class ConfigJson
{
    /// <summary>Old key -> current key, per config type: what earlier versions wrote.</summary>
    public static readonly IReadOnlyDictionary<Type, IReadOnlyDictionary<string, string>> Renamed = new Dictionary<Type, IReadOnlyDictionary<string, string>>
    {
        [typeof(ModelConfig)] = new Dictionary<string, string> { ["activation_checkpointing"] = "recompute_activations" },
    };

    /// <summary>
    /// Renames old keys of a <typeparamref name="T"/> object in place (see <see cref="Renamed"/>); a file holding both
    /// the old and the new name is refused, naming both.
    /// </summary>
    public static void Upgrade<T>(JsonObject o, string source)
    {
        if (!Renamed.TryGetValue(typeof(T), out var renames)) return;
        foreach (var (old, now) in renames)
        {
            if (!o.ContainsKey(old)) continue;
            if (o.ContainsKey(now))
                throw new InvalidDataException($"{source} has both '{old}' (the earlier name) and '{now}': remove '{old}'.");
            var value = o[old]?.DeepClone();
            o.Remove(old);
            o[now] = value;
        }
    }

    /// <summary>
    /// Deserialises <paramref name="json"/> as <typeparamref name="T"/>; <paramref name="source"/> names where it came
    /// from in errors (e.g. <c>runs/x/config.json, section "model"</c>). Throws <see cref="InvalidDataException"/>.
    /// </summary>
    public static T Read<T>(string json, JsonSerializerOptions options, string source)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(json); }
        catch (JsonException e) { throw new InvalidDataException($"{source} is not valid JSON ({JsonErrors.Describe(e)}): fix the file.", e); }
        if (root is not JsonObject o) throw new InvalidDataException($"{source} must be a JSON object of {typeof(T).Name} fields, not {root?.ToJsonString() ?? "null"}.");
        Upgrade<T>(o, source);
        var unknown = UnknownKeys(o, typeof(T), options, "").ToList();
        if (unknown.Count > 0)
            throw new InvalidDataException($"{source} has unknown key(s) {string.Join(", ", unknown.Select(k => $"'{k}'"))}: remove them or fix their spelling. {typeof(T).Name} has {string.Join(", ", Settable(typeof(T), options).Select(p => p.Name))}.");
        T config;
        try
        {
            config = o.Deserialize<T>(options) ?? throw new InvalidDataException($"{source} is empty (null).");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: {Explain(e, o, typeof(T), options)} Fix the value in the file.", e);
        }
        // A derived field is written for readers; a file that says otherwise was edited expecting it to count.
        foreach (var field in Fields(typeof(T), options))
            if (DerivedOf(field) is { } derived && o[field.Name] is { } given
                && JsonSerializer.SerializeToNode(field.Get!(config), field.PropertyType, options) is var computed && !JsonNode.DeepEquals(given, computed))
                throw new InvalidDataException($"{source}: '{field.Name}' is derived ({derived.Formula}), so it is {computed?.ToJsonString()}, not {given.ToJsonString()}: remove it, or set {derived.Set}.");
        return config;
    }

    /// <summary>The derived fields of <paramref name="type"/> (<see cref="DerivedAttribute"/>), by JSON name: not knobs.</summary>
    public static IReadOnlyList<(string Name, DerivedAttribute Derived)> Derived(Type type, JsonSerializerOptions options) =>
        Fields(type, options).Where(f => DerivedOf(f) is not null).Select(f => (f.Name, DerivedOf(f)!)).ToList();

    static DerivedAttribute? DerivedOf(JsonPropertyInfo field) =>
        field.AttributeProvider?.GetCustomAttributes(typeof(DerivedAttribute), true).OfType<DerivedAttribute>().FirstOrDefault();

    /// <summary>
    /// "field 'x' must be ..., not ...": what a <see cref="JsonException"/> from deserialising <paramref name="root"/> as
    /// <paramref name="type"/> means, from its path (<c>$.attention_kinds[0]</c>) and the field's type.
    /// </summary>
    public static string Explain(JsonException e, JsonObject root, Type type, JsonSerializerOptions options)
    {
        var path = e.Path is { Length: > 2 } p && p.StartsWith("$.", StringComparison.Ordinal) ? p[2..] : null;
        if (path is null) return JsonErrors.Describe(e) + ".";
        var top = path.Split('.', '[')[0];
        var field = Fields(type, options).FirstOrDefault(f => f.Name == top);
        var value = root[top]?.ToJsonString() ?? "null";
        return field is null ? $"field '{top}' = {value} cannot be read ({JsonErrors.Describe(e)})." : $"field '{top}' must be {Expected(field.PropertyType, options)}, not {value}.";
    }

    /// <summary>What a field of <paramref name="type"/> takes, in words a config editor understands, with an example.</summary>
    public static string Expected(Type type, JsonSerializerOptions options)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(int) || type == typeof(long)) return "a whole number (e.g. 6)";
        if (type == typeof(double) || type == typeof(float)) return "a number (e.g. 0.02)";
        if (type == typeof(bool)) return "true or false";
        if (type == typeof(string)) return "a string in double quotes";
        if (type.IsEnum) return $"one of {EnumNames.List(type)}";
        var element = type.IsGenericType && type.GetGenericArguments() is [var a] && typeof(IEnumerable<>).MakeGenericType(a).IsAssignableFrom(type) ? a : null;
        if (element is not null)
            return element.IsEnum
                ? $"a list of {EnumNames.List(element)} (e.g. [{JsonSerializer.Serialize(Enum.GetValues(element).GetValue(0), element, options)}])"
                : $"a list of {Expected(element, options)}";
        return $"an object with {string.Join(", ", Settable(type, options).Select(f => f.Name))}";
    }

    // What the file may hold: every serialised property, derived ones too (TrainingConfig writes total_steps), never
    // [JsonIgnore]d ones; a field ignored only when it holds its default (ModelConfig.Parametrization) is still read.
    static IEnumerable<JsonPropertyInfo> Fields(Type type, JsonSerializerOptions options)
    {
        // Options get their reflection resolver on first use by the serializer; asking for metadata first needs it now.
        if (!options.IsReadOnly) options.MakeReadOnly(populateMissingResolver: true);
        return options.GetTypeInfo(type).Properties.Where(p =>
            p.AttributeProvider?.GetCustomAttributes(typeof(JsonIgnoreAttribute), true).Cast<JsonIgnoreAttribute>().Any(a => a.Condition == JsonIgnoreCondition.Always) != true);
    }

    /// <summary>The JSON names of the fields a <paramref name="type"/> file may set, those unwritten at their default included.</summary>
    public static IReadOnlySet<string> Keys(Type type, JsonSerializerOptions options) => Settable(type, options).Select(p => p.Name).ToHashSet();

    /// <summary>Every field a <typeparamref name="T"/> file may set, by JSON name, with its type and <paramref name="config"/>'s
    /// value as JSON: those unwritten at their default included (ModelConfig.parametrization, TrainingConfig.freeze).</summary>
    public static IEnumerable<(string Name, Type Type, JsonNode? Value)> Values<T>(T config, JsonSerializerOptions options) =>
        Settable(typeof(T), options).Select(f => (f.Name, f.PropertyType, JsonSerializer.SerializeToNode(f.Get!(config!), f.PropertyType, options)));

    // What a person sets: the fields above that deserialisation writes.
    static IEnumerable<JsonPropertyInfo> Settable(Type type, JsonSerializerOptions options) => Fields(type, options).Where(p => p.Set is not null);

    static IEnumerable<string> UnknownKeys(JsonObject o, Type type, JsonSerializerOptions options, string prefix)
    {
        var fields = Fields(type, options).ToDictionary(f => f.Name);
        foreach (var (key, value) in o)
        {
            if (!fields.TryGetValue(key, out var f)) { yield return prefix + key; continue; }
            var t = Nullable.GetUnderlyingType(f.PropertyType) ?? f.PropertyType;
            if (value is JsonObject nested && t.IsClass && t != typeof(string))
                foreach (var k in UnknownKeys(nested, t, options, $"{prefix}{key}.")) yield return k;
        }
    }
}

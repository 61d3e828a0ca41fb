using System.Text.Json;
using System.Text.Json.Serialization;

namespace LMHarness;

/// <summary>
/// Enumerations as text, the one way LMHarness reads them (config.json, command-line knobs, the JSON of every config):
/// by name only, snake_case or as declared, in any case. A number is refused: System.Text.Json and Enum.Parse accept
/// one by default, and <c>--position 7</c> would train a model with no position information at all.
/// </summary>
public static class EnumNames
{
    /// <summary>The converter of every LMHarness <see cref="JsonSerializerOptions"/>: snake_case names, numbers refused.</summary>
    public static JsonStringEnumConverter Converter() => new(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false);

    static readonly JsonSerializerOptions Options = new() { Converters = { Converter() } };

    /// <summary>The names of <paramref name="type"/>'s values as config files write them (e.g. "cosine, linear, constant, warmup_stable_decay").</summary>
    public static string List(Type type) =>
        string.Join(", ", Enum.GetValues(type).Cast<object>().Select(v => JsonSerializer.Serialize(v, type, Options).Trim('"')));

    /// <summary>The value of <paramref name="type"/> named <paramref name="text"/>, or null when it names none (a number,
    /// an empty or unknown name).</summary>
    public static object? TryParse(Type type, string text)
    {
        try { return JsonSerializer.Deserialize(JsonSerializer.Serialize(text), type, Options); }
        catch (JsonException) { return null; }
    }

    /// <summary>The value of <typeparamref name="T"/> named <paramref name="text"/>; throws naming <paramref name="what"/>
    /// (e.g. "--dtype") and listing the names when it names none.</summary>
    public static T Parse<T>(string text, string what) where T : struct, Enum =>
        TryParse(typeof(T), text) is T value ? value : throw new ArgumentException($"{what} {text}: use one of {List(typeof(T))}.");

    /// <summary>Whether <paramref name="value"/> is one of its type's named values (a cast such as <c>(PositionKind)7</c> is not).</summary>
    public static bool IsNamed<T>(T value) where T : struct, Enum => Enum.IsDefined(value);
}

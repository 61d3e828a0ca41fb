using System.Text.Json.Serialization;

namespace LMHarness;

/// <summary>
/// The type-level JSON converter of LMHarness enums (<c>[JsonConverter(typeof(NamedEnumConverter&lt;T&gt;))]</c>): names as
/// declared, numbers refused, for options that do not carry <see cref="EnumNames.Converter"/>.
/// </summary>
public sealed class NamedEnumConverter<T>() : JsonStringEnumConverter<T>(namingPolicy: null, allowIntegerValues: false) where T : struct, Enum;

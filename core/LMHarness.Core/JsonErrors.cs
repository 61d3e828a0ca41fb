using System.Text.Json;

namespace LMHarness;

/// <summary>
/// A <see cref="JsonException"/> in words for a person editing the file: the parser's message without its internals
/// ("Path: $.x | LineNumber: 24 | BytePositionInLine: 3."), with the line and column counted from 1.
/// </summary>
public static class JsonErrors
{
    /// <summary>e.g. "'x' is an invalid start of a value, at line 25, column 4".</summary>
    public static string Describe(JsonException e)
    {
        var message = e.Message;
        foreach (var marker in new[] { " Path: ", " LineNumber: " })
            if (message.IndexOf(marker, StringComparison.Ordinal) is var cut and >= 0) message = message[..cut];
        message = message.TrimEnd(' ', '.');
        return e.LineNumber is { } line ? $"{message}, at line {line + 1}, column {(e.BytePositionInLine ?? 0) + 1}" : message;
    }
}

using System.Globalization;

namespace LMHarness.Config;

/// <summary>
/// A set of parameters by name, as <see cref="TrainingConfig.Freeze"/> gives them: dot-separated segments matched
/// against the leading segments of a parameter's name (HF Llama names, <c>model.layers.3.mlp.up_proj.weight</c>).
/// A segment is a literal, <c>*</c> (any one segment) or an inclusive range of layer numbers <c>a-b</c>. So
/// <c>model.embed_tokens</c> is the token embedding (and the head when it is tied: one tensor), <c>model.layers.0-3</c>
/// the first four blocks, <c>model.layers.*.self_attn</c> every attention, <c>model.norm.weight</c> one tensor.
/// </summary>
public sealed class ParameterPattern
{
    readonly string[] _segments;

    ParameterPattern(string text, string[] segments) => (Text, _segments) = (text, segments);

    public string Text { get; }

    /// <summary>The pattern <paramref name="text"/> stands for, or null with the reason it is not one.</summary>
    public static ParameterPattern? TryParse(string? text, out string problem)
    {
        problem = "";
        if (string.IsNullOrWhiteSpace(text)) { problem = "an empty pattern"; return null; }
        var segments = text.Split('.');
        foreach (var s in segments)
        {
            if (s.Length == 0) { problem = $"'{text}' has an empty segment"; return null; }
            if (Range(s) is { } r && r.From > r.To) { problem = $"'{text}': the range {s} runs backwards (write {r.To}-{r.From})"; return null; }
            if (s != "*" && Range(s) is null && !s.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
                { problem = $"'{text}': segment '{s}' is not a name, a number, * or a range a-b"; return null; }
        }
        return new ParameterPattern(text, segments);
    }

    /// <summary>The pattern <paramref name="text"/> stands for; throws naming the problem.</summary>
    public static ParameterPattern Parse(string text) =>
        TryParse(text, out var problem) ?? throw new ArgumentException($"freeze: {problem}.");

    /// <summary>Whether <paramref name="name"/> (a parameter's full name) lies under this pattern.</summary>
    public bool Matches(string name)
    {
        var parts = name.Split('.');
        if (parts.Length < _segments.Length) return false;
        for (var i = 0; i < _segments.Length; i++)
        {
            var s = _segments[i];
            if (s == "*" || s == parts[i]) continue;
            if (Range(s) is { } r && long.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= r.From && n <= r.To) continue;
            return false;
        }
        return true;
    }

    // "a-b" with both ends whole numbers.
    static (long From, long To)? Range(string s)
    {
        var dash = s.IndexOf('-');
        return dash > 0 && long.TryParse(s[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out var a)
            && long.TryParse(s[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var b) ? (a, b) : null;
    }

    public override string ToString() => Text;
}

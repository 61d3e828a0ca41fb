using System.Text.Json.Serialization;

namespace LMHarness.Generation;

/// <summary>Why generation of one sequence ended.</summary>
[JsonConverter(typeof(NamedEnumConverter<StopReason>))]
public enum StopReason
{
    /// <summary><see cref="SamplingOptions.MaxNewTokens"/> tokens were generated.</summary>
    MaxNewTokens,
    /// <summary>A token of <see cref="SamplingOptions.StopTokens"/> was drawn (not included in the output).</summary>
    StopToken,
    /// <summary>A string of <see cref="SamplingOptions.StopStrings"/> appeared (the text is cut before it).</summary>
    StopString,
}

/// <summary>One prompt's continuation: its token ids, decoded text (cut before a stop string), and why it ended.</summary>
public sealed record GenerationResult(string Prompt, IReadOnlyList<int> PromptTokens, IReadOnlyList<int> Tokens, string Text, StopReason Reason);

using System.Text.Json;
using System.Text.Json.Serialization;

namespace LMHarness.Generation;

/// <summary>
/// How the next token is drawn from the logits, and when generation stops. Filters apply in the order of Hugging
/// Face's logits processors: repetition penalty (Keskar et al. 2019, CTRL), temperature, top-k (Fan et al. 2018),
/// top-p / nucleus (Holtzman et al. 2020), min-p (Nguyen et al. 2024). A value at its default switches its filter off.
/// <see cref="Temperature"/> = 0 is greedy decoding (argmax after the penalty).
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>Softmax temperature: logits / T. 0 means greedy (argmax); 1 keeps the model's distribution.</summary>
    public double Temperature { get; init; } = 1.0;
    /// <summary>Keep only the k most probable tokens; 0 = off.</summary>
    public int TopK { get; init; }
    /// <summary>Keep the smallest set of most probable tokens whose cumulative probability reaches p; 1 = off.</summary>
    public double TopP { get; init; } = 1.0;
    /// <summary>Drop tokens whose probability is below min_p x the top token's probability; 0 = off.</summary>
    public double MinP { get; init; }
    /// <summary>CTRL penalty for tokens already in the prompt or output: positive logits / r, negative logits x r; 1 = off.</summary>
    public double RepetitionPenalty { get; init; } = 1.0;
    public int MaxNewTokens { get; init; } = 100;
    /// <summary>Token ids that end generation (not included in the output).</summary>
    public IReadOnlyList<int> StopTokens { get; init; } = [];
    /// <summary>Strings that end generation when they appear in the decoded continuation (the output is cut before them).</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];
    /// <summary>Seed of the sampler's own torch.Generator (the global RNG is left untouched); null = nondeterministic.</summary>
    public long? Seed { get; init; }

    /// <summary>Greedy decoding: always the most probable token.</summary>
    public static SamplingOptions Greedy { get; } = new() { Temperature = 0 };

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Returns these options when they are usable; otherwise throws one error listing every problem.</summary>
    public SamplingOptions Validated()
    {
        var problems = new List<string>();
        void Need(bool ok, string problem) { if (!ok) problems.Add(problem); }
        Need(Temperature >= 0 && double.IsFinite(Temperature), $"temperature must be >= 0 (got {Temperature}; 0 = greedy)");
        Need(TopK >= 0, $"top_k must be >= 0 (got {TopK}; 0 = off)");
        Need(TopP is > 0 and <= 1, $"top_p must be in (0, 1] (got {TopP}; 1 = off)");
        Need(MinP is >= 0 and <= 1, $"min_p must be in [0, 1] (got {MinP}; 0 = off)");
        Need(RepetitionPenalty > 0 && double.IsFinite(RepetitionPenalty), $"repetition_penalty must be > 0 (got {RepetitionPenalty}; 1 = off)");
        Need(MaxNewTokens >= 0, $"max_new_tokens must be >= 0 (got {MaxNewTokens})");
        Need(StopStrings.All(s => s.Length > 0), "stop_strings must not contain the empty string");
        if (problems.Count > 0) throw new ArgumentException("Invalid sampling options: " + string.Join("; ", problems) + ".");
        return this;
    }
}

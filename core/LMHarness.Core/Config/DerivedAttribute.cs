namespace LMHarness.Config;

/// <summary>
/// Marks a config property that is computed from others (<c>tokens_per_step</c>, <c>total_steps</c>): written to
/// config.json so a reader sees it, shown as derived by <c>--help</c>, and refused when given as a knob or when a
/// config file holds a value other than the one its fields give (<see cref="ConfigJson"/>).
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class DerivedAttribute(string formula, string set) : Attribute
{
    /// <summary>How it is computed, in the config's field names (e.g. "micro_batch x grad_accumulation x context_length").</summary>
    public string Formula { get; } = formula;
    /// <summary>The fields to set instead (e.g. "max_steps or max_tokens").</summary>
    public string Set { get; } = set;
}

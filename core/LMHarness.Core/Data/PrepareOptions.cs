namespace LMHarness.Data;

/// <summary>How <see cref="Preparer"/> writes a token file.</summary>
public sealed record PrepareOptions
{
    /// <summary>Fraction of the tokens (the last ones) kept as the validation split; nanoGPT uses 0.1 for Shakespeare.</summary>
    public double ValFraction { get; init; } = 0.1;
    /// <summary>Worker threads for tokenization (output order is kept whatever the count).</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>Progress bar on a terminal, one line per ~10% when output is redirected; false for none.</summary>
    public bool Progress { get; init; } = true;
}

namespace LMHarness.Data;

/// <summary>How <see cref="Preparer"/> writes a token file.</summary>
public sealed record PrepareOptions
{
    /// <summary>Fraction of the tokens (the last ones) kept as the validation split; nanoGPT uses 0.1 for Shakespeare.</summary>
    public double ValFraction { get; init; } = 0.1;
    /// <summary>Worker threads for tokenization (output order is kept whatever the count).</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>Where progress goes: plain lines about every 10 % by default; null for none (a terminal bar lives in LMHarness.Lab).</summary>
    public IPrepareProgress? Progress { get; init; } = new PrepareProgressLines();
}

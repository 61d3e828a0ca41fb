namespace LMHarness.Data;

/// <summary>
/// One source of a corpus mix and its token budget: exactly <see cref="TokenBudget"/> tokens are taken from it,
/// reading it again from the start as often as needed when it runs short (as nanoGPT-style mixtures repeat small
/// sources) and cutting the last document when it is longer. A budget of 0 takes the whole source once.
/// </summary>
public sealed record MixPart(CorpusSource Source, long TokenBudget)
{
    /// <summary>The whole source, once.</summary>
    public MixPart(CorpusSource source) : this(source, 0) { }
}

namespace LMHarness.Scripting;

/// <summary>
/// The globals every script sees, as in dotnet-script: <c>Args</c> holds the arguments given after the script path.
/// </summary>
public sealed class ScriptGlobals
{
    public ScriptGlobals(IList<string> args) => Args = args;

    /// <summary>Arguments after the script path (a leading <c>--</c> removed), e.g. <c>dotnet script train.csx --steps 10</c>.</summary>
    public IList<string> Args { get; }
}

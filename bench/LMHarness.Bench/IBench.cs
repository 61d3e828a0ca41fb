namespace LMHarness.Bench;

/// <summary>A benchmark that prints its figures (ratios measured side by side in one run).</summary>
public interface IBench
{
    /// <summary>Name used on the command line: <c>dotnet run -c Release --project bench/LMHarness.Bench -- NAME</c>.</summary>
    string Name { get; }
    string Description { get; }
    void Run(string[] args);
}

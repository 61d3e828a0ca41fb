namespace LMHarness.Scripting;

/// <summary>
/// The assemblies of the running host, read from the runtime's trusted platform assembly list: the shared framework's
/// folder, and every other (application) assembly by simple name. It touches no Roslyn type on purpose: the
/// compiled-script cache computes its key from it, and a cache hit must not pay for loading the compiler.
/// </summary>
public static class HostAssemblies
{
    /// <summary>The .NET shared framework folder the host runs on (its assemblies change only with the runtime).</summary>
    public static string FrameworkDirectory { get; } = Path.GetDirectoryName(typeof(object).Assembly.Location)!;

    /// <summary>Every trusted platform assembly's path, the shared framework's included.</summary>
    public static IReadOnlyList<string> All { get; } = ((string?)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") ?? "")
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);

    /// <summary>
    /// The host's own assemblies outside the shared framework (LMHarness, TorchSharp, the packages), simple name to
    /// path; the compiler's own (Microsoft.CodeAnalysis*) are left out: a script never binds to them.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Application { get; } = All
        .Where(p => !string.Equals(Path.GetDirectoryName(p), FrameworkDirectory, StringComparison.Ordinal))
        .Where(p => !Path.GetFileName(p).StartsWith("Microsoft.CodeAnalysis", StringComparison.OrdinalIgnoreCase))
        .GroupBy(p => Path.GetFileNameWithoutExtension(p), StringComparer.OrdinalIgnoreCase)
        .ToDictionary(g => g.Key, g => g.Last(), StringComparer.OrdinalIgnoreCase);
}

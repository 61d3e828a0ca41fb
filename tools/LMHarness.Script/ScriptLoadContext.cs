using System.Reflection;
using System.Runtime.Loader;

namespace LMHarness.Scripting;

/// <summary>
/// The load context a compiled script runs in, one per run: a script assembly loaded again (the same cached entry run
/// twice in one process, as tests do) would clash with itself in the default context. Everything the script names
/// that the host carries (LMHarness, TorchSharp, ScriptGlobals) still comes from the default context, so the script
/// and the host share one copy of each; a DLL outside the host is loaded from the path the script <c>#r</c>-ed, and
/// what that DLL needs from beside it, as Roslyn's own script loader does.
/// </summary>
sealed class ScriptLoadContext : AssemblyLoadContext
{
    readonly IReadOnlyList<string> _references;

    public ScriptLoadContext(IReadOnlyList<string> referencePaths) : base("LMHarness.Script", isCollectible: false)
        => _references = referencePaths;

    protected override Assembly? Load(AssemblyName name)
    {
        if (HostAssemblies.Application.ContainsKey(name.Name!)) return null; // the default context's (the host's) copy
        foreach (var path in _references)
            if (string.Equals(Path.GetFileNameWithoutExtension(path), name.Name, StringComparison.OrdinalIgnoreCase))
                return LoadFromAssemblyPath(path);
        foreach (var dir in _references.Select(Path.GetDirectoryName).Distinct())
            if (Path.Combine(dir!, name.Name + ".dll") is var beside && File.Exists(beside))
                return LoadFromAssemblyPath(beside);
        return null; // the framework's, from the default context
    }

    /// <summary>Loads the script's image and runs its submission with <paramref name="globals"/>; returns its value.</summary>
    public object? Run(byte[] image, ScriptGlobals globals)
    {
        var assembly = LoadFromStream(new MemoryStream(image));
        // Roslyn compiles a script to a type "Submission#0" whose static <Factory> takes the submission array: slot 0
        // holds the globals, slot 1 receives the submission itself (upstream's ScriptRunner invokes it the same way).
        var factory = assembly.GetType("Submission#0")?.GetMethod("<Factory>", BindingFlags.Static | BindingFlags.Public)
            ?? throw new InvalidOperationException("the compiled script has no Submission#0.<Factory>: not a script assembly");
        var task = (Task<object>)factory.Invoke(null, [new object?[] { globals, null }])!;
        return task.GetAwaiter().GetResult();
    }
}

using System.Collections.Immutable;
using System.Text.Json;
using Microsoft.CodeAnalysis;

namespace LMHarness.Scripting;

/// <summary>
/// The assemblies this host can give a script, found from the running process: the .NET shared framework
/// (always referenced, as in dotnet-script), and every package and project assembly the host was built with
/// (given to a script only through <c>#r</c>). Package ids and their runtime assemblies come from the host's
/// <c>.deps.json</c>, which is how <c>#r "nuget: Id, Version"</c> resolves with no network.
/// </summary>
public sealed class HostReferences
{
    readonly Dictionary<string, string> _appAssemblies = new(StringComparer.OrdinalIgnoreCase); // simple name -> path
    readonly Dictionary<string, Package> _packages = new(StringComparer.OrdinalIgnoreCase);
    readonly Dictionary<string, MetadataReference> _cache = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>A package the host carries: its version, its runtime assembly simple names and the ids it depends on.</summary>
    public sealed record Package(string Id, string Version, IReadOnlyList<string> Assemblies, IReadOnlyList<string> Dependencies);

    /// <summary>Shared-framework assemblies every script compiles against.</summary>
    public IReadOnlyList<MetadataReference> Framework { get; }

    /// <summary>Packages the host can hand out for <c>#r "nuget: ..."</c>, by id.</summary>
    public IReadOnlyDictionary<string, Package> Packages => _packages;

    public static HostReferences Current { get; } = new();

    HostReferences()
    {
        var framework = new List<MetadataReference>();
        foreach (var path in HostAssemblies.All)
            if (string.Equals(Path.GetDirectoryName(path), HostAssemblies.FrameworkDirectory, StringComparison.Ordinal) && IsManagedReferenceable(path))
                framework.Add(Reference(path));
        foreach (var (name, path) in HostAssemblies.Application) _appAssemblies[name] = path;
        Framework = framework;
        foreach (var deps in ((string?)AppContext.GetData("APP_CONTEXT_DEPS_FILES") ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries))
            if (File.Exists(deps)) ReadDeps(deps);
    }

    static bool IsManagedReferenceable(string path)
    {
        // Native shims and the Private.* implementation assemblies other than CoreLib only confuse the compiler.
        var name = Path.GetFileName(path);
        return name.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)
            && !name.StartsWith("System.Private.", StringComparison.Ordinal) || name == "System.Private.CoreLib.dll";
    }

    void ReadDeps(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        if (!doc.RootElement.TryGetProperty("targets", out var targets)) return;
        foreach (var target in targets.EnumerateObject())
            foreach (var lib in target.Value.EnumerateObject())
            {
                var slash = lib.Name.IndexOf('/');
                if (slash < 0) continue;
                var id = lib.Name[..slash];
                var assemblies = new List<string>();
                if (lib.Value.TryGetProperty("runtime", out var runtime))
                    foreach (var file in runtime.EnumerateObject())
                        assemblies.Add(Path.GetFileNameWithoutExtension(file.Name));
                var dependencies = new List<string>();
                if (lib.Value.TryGetProperty("dependencies", out var depsEl))
                    foreach (var d in depsEl.EnumerateObject()) dependencies.Add(d.Name);
                _packages.TryAdd(id, new Package(id, lib.Name[(slash + 1)..], assemblies, dependencies));
            }
    }

    /// <summary>The host's own copy of an assembly with this simple name, or null when the host has none.</summary>
    public MetadataReference? HostAssembly(string simpleName) =>
        _appAssemblies.TryGetValue(simpleName, out var path) ? Reference(path) : null;

    /// <summary>
    /// The reference for <c>#r "nuget: Id[, Version]"</c>: the host's own copy of the package's main assembly (the one
    /// named like the package, else its first). Assemblies it depends on are resolved on demand from the host too
    /// (Roslyn binds one reference per directive). Throws naming the package and the fix when the host does not carry it.
    /// </summary>
    public PortableExecutableReference ResolvePackage(string id, string? version, Action<string> warn)
    {
        if (!_packages.TryGetValue(id, out var package) || package.Assemblies.Count == 0)
            throw new FileNotFoundException(
                $"#r \"nuget: {id}\": package '{id}' is not available offline to the LMHarness script host. Packages it carries: " +
                string.Join(", ", _packages.Values.Where(p => p.Assemblies.Count > 0 && !p.Id.StartsWith("Microsoft.", StringComparison.OrdinalIgnoreCase) && p.Id != "LMHarness.Script").Select(p => p.Id).Order()) +
                $". To use '{id}', add <PackageReference Include=\"{id}\" Version=\"...\" /> to tools/LMHarness.Script/LMHarness.Script.csproj.");
        if (!string.IsNullOrEmpty(version) && version != package.Version)
            warn($"#r \"nuget: {id}, {version}\": the script host carries {id} {package.Version}; using {package.Version}.");
        var main = package.Assemblies.FirstOrDefault(a => string.Equals(a, id, StringComparison.OrdinalIgnoreCase)) ?? package.Assemblies[0];
        return HostAssembly(main) as PortableExecutableReference
            ?? throw new FileNotFoundException($"#r \"nuget: {id}\": {main}.dll is listed in the host's deps.json but missing beside the host; rebuild it (dotnet build tools/LMHarness.Script -c Release).");
    }

    MetadataReference Reference(string path)
    {
        lock (_cache)
        {
            if (!_cache.TryGetValue(path, out var r))
                _cache[path] = r = MetadataReference.CreateFromFile(path);
            return r;
        }
    }
}

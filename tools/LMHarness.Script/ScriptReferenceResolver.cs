using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Scripting;

namespace LMHarness.Scripting;

/// <summary>
/// Resolves <c>#r</c> the way dotnet-script does, but offline and against one copy of every assembly:
/// <list type="bullet">
/// <item><c>#r "nuget: Id, Version"</c> -> the host's own copy of that package (<see cref="HostReferences.ResolvePackage"/>).</item>
/// <item><c>#r "some/path/X.dll"</c> -> the host's copy of X when it has one (so the script and the host share one
/// LMHarness.Core and one TorchSharp in the process: two copies would mean two native loaders and two type
/// identities), otherwise the file itself, relative to the script that wrote the directive.</item>
/// <item>Assemblies a referenced DLL needs are taken from the host, else from that DLL's folder.</item>
/// </list>
/// </summary>
public sealed class ScriptReferenceResolver : MetadataReferenceResolver
{
    readonly ScriptMetadataResolver _files;
    readonly HostReferences _host;
    readonly Action<string> _warn;

    public ScriptReferenceResolver(string baseDirectory, HostReferences host, Action<string> warn)
    {
        _files = ScriptMetadataResolver.Default.WithBaseDirectory(baseDirectory);
        _host = host;
        _warn = warn;
    }

    public override bool ResolveMissingAssemblies => true;

    /// <summary>Why a <c>#r</c> could not be resolved, by its text (shown beside Roslyn's CS0006 diagnostic).</summary>
    public Dictionary<string, string> Failures { get; } = new(StringComparer.Ordinal);

    public override ImmutableArray<PortableExecutableReference> ResolveReference(string reference, string? baseFilePath, MetadataReferenceProperties properties)
    {
        if (reference.StartsWith("nuget:", StringComparison.OrdinalIgnoreCase))
        {
            var parts = reference["nuget:".Length..].Split(',', 2, StringSplitOptions.TrimEntries);
            try { return [_host.ResolvePackage(parts[0], parts.Length > 1 ? parts[1] : null, _warn)]; }
            catch (FileNotFoundException e)
            {
                // Roslyn then reports CS0006 at the directive's file:line:col; the runner appends this reason.
                lock (Failures) Failures[reference] = e.Message;
                return [];
            }
        }
        var fromFile = _files.ResolveReference(reference, baseFilePath, properties);
        var simpleName = Path.GetFileNameWithoutExtension(reference.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) || reference.EndsWith(".exe", StringComparison.OrdinalIgnoreCase) ? reference : reference + ".dll");
        if (_host.HostAssembly(simpleName) is PortableExecutableReference own)
            return [own.WithProperties(properties)];
        return fromFile;
    }

    public override PortableExecutableReference? ResolveMissingAssembly(MetadataReference definition, AssemblyIdentity referenceIdentity)
    {
        if (_host.HostAssembly(referenceIdentity.Name) is PortableExecutableReference own) return own;
        if (definition is PortableExecutableReference { FilePath: { } path })
        {
            var beside = Path.Combine(Path.GetDirectoryName(path)!, referenceIdentity.Name + ".dll");
            if (File.Exists(beside)) return MetadataReference.CreateFromFile(beside);
        }
        return null;
    }

    public override bool Equals(object? other) => ReferenceEquals(this, other);
    public override int GetHashCode() => 0;
}

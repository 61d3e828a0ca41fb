using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Emit;
using Microsoft.CodeAnalysis.Scripting;
using Microsoft.CodeAnalysis.Text;

namespace LMHarness.Scripting;

/// <summary>
/// Compiles one .csx file in the dotnet-script dialect (<c>#r</c> paths and <c>nuget:</c>, <c>#load</c>, top-level
/// <c>await</c>, the <c>Args</c> global, dotnet-script's default imports) to a <see cref="CompiledScript"/>. The only
/// place the host touches Roslyn: a run served from the cache never loads the compiler.
/// </summary>
public static class ScriptCompiler
{
    /// <summary>The namespaces dotnet-script imports into every script; the same here so scripts run under both.</summary>
    public static readonly IReadOnlyList<string> DefaultImports =
    [
        "System", "System.IO", "System.Collections.Generic", "System.Console", "System.Diagnostics",
        "System.Dynamic", "System.Linq", "System.Linq.Expressions", "System.Text", "System.Threading.Tasks",
    ];

    /// <summary>
    /// Every compilation option below, as text: part of the cache key, so changing one here recompiles cached scripts.
    /// Keep it in step with <see cref="Compile"/>.
    /// </summary>
    public static string Options { get; } =
        $"csharp-script;release;unsafe;embedded-pdb;utf8;globals={typeof(ScriptGlobals).FullName};imports={string.Join(',', DefaultImports)}";

    /// <summary>
    /// The compiled script, or null after writing its errors (<c>file:line:col: error ...</c>) to <paramref name="errors"/>.
    /// Warnings go to <paramref name="errors"/> as they are found and into the result.
    /// </summary>
    public static CompiledScript? Compile(string fullPath, TextWriter errors)
    {
        var warnings = new List<string>();
        void Warn(string line) { warnings.Add(line); errors.WriteLine(line); }
        var dir = Path.GetDirectoryName(fullPath)!;

        SourceText code;
        using (var stream = File.OpenRead(fullPath))
            code = SourceText.From(stream, Encoding.UTF8); // an encoding is required to emit debug info (line numbers in stack traces)

        var resolver = new ScriptReferenceResolver(dir, HostReferences.Current, m => Warn($"{fullPath}: warning: {m}"));
        var options = ScriptOptions.Default
            .WithFilePath(fullPath)
            .WithFileEncoding(Encoding.UTF8)
            .WithEmitDebugInformation(true)
            .WithReferences(HostReferences.Current.Framework)
            .WithImports(DefaultImports)
            .WithSourceResolver(new SourceFileResolver([], dir))
            .WithMetadataResolver(resolver)
            .WithOptimizationLevel(OptimizationLevel.Release)
            .WithAllowUnsafe(true);
        try
        {
            var compilation = CSharpScript.Create(code.ToString(), options, typeof(ScriptGlobals)).GetCompilation();
            var image = new MemoryStream();
            var result = compilation.Emit(image, options: new EmitOptions(debugInformationFormat: DebugInformationFormat.Embedded));
            foreach (var d in result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Warning && !d.IsSuppressed && d.WarningLevel <= 1))
                Warn(Format(d));
            if (!result.Success)
            {
                foreach (var d in result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error))
                {
                    errors.WriteLine(Format(d));
                    foreach (var (reference, reason) in resolver.Failures)
                        if (d.Id == "CS0006" && d.GetMessage().Contains(reference, StringComparison.Ordinal))
                            errors.WriteLine("  " + reason);
                }
                return null;
            }
            // DLLs the script binds to outside the host and the framework: the run loads them from where they are.
            var outside = compilation.References.OfType<PortableExecutableReference>()
                .Select(r => r.FilePath).OfType<string>()
                .Where(p => !HostAssemblies.All.Contains(p, StringComparer.Ordinal))
                .Distinct().ToList();
            return new CompiledScript(image.ToArray(), warnings, outside);
        }
        catch (CompilationErrorException e)
        {
            foreach (var d in e.Diagnostics) errors.WriteLine(Format(d));
            return null;
        }
        catch (FileNotFoundException e) // a #r the resolver refused, with its reason
        {
            errors.WriteLine($"{fullPath}: error: {e.Message}");
            return null;
        }
    }

    /// <summary><c>path:line:col: error CS0103: message</c>, where path is the file that holds the error (a #load-ed one included).</summary>
    public static string Format(Diagnostic d)
    {
        var span = d.Location.GetMappedLineSpan();
        var where = span.IsValid
            ? $"{span.Path}:{span.StartLinePosition.Line + 1}:{span.StartLinePosition.Character + 1}"
            : "script";
        var severity = d.Severity == DiagnosticSeverity.Error ? "error" : "warning";
        return $"{where}: {severity} {d.Id}: {d.GetMessage()}";
    }
}

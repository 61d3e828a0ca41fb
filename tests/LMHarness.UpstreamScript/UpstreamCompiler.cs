using System.Collections.Immutable;
using System.Reflection;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Scripting;
using Microsoft.CodeAnalysis.Scripting.Hosting;

namespace LMHarness.UpstreamScript;

/// <summary>
/// How upstream dotnet-script 2.x compiles a script and which diagnostics stop it, copied rule by rule from
/// dotnet-script/dotnet-script src/Dotnet.Script.Core/ScriptCompiler.cs (ImportedNamespaces, SuppressedDiagnosticIds,
/// ParseOptions, CreateScriptOptions, EvaluateDiagnostics, SetOptimizationLevel; read at commit 256a654) and
/// src/Dotnet.Script.Core/Internal/ScriptExtensions.cs (GetDiagnostics). That revision predates upstream's nullable
/// rule, which is taken from its decision in dotnet-script issue #411 and from what upstream 2.x prints for
/// scripts/compare.csx (<c>compare.csx(16,7): error CS8632</c>). The stand-in (Program.cs) compiles with it, and the
/// tests compile every .csx of the repository with it, so a script that upstream refuses is refused here too.
/// </summary>
public static class UpstreamCompiler
{
    /// <summary>ScriptCompiler.ImportedNamespaces: the usings every script gets without writing them.</summary>
    public static readonly ImmutableArray<string> ImportedNamespaces =
    [
        "System", "System.IO", "System.Collections.Generic", "System.Console", "System.Diagnostics",
        "System.Dynamic", "System.Linq", "System.Linq.Expressions", "System.Text", "System.Threading.Tasks",
    ];

    /// <summary>
    /// ScriptCompiler.SuppressedDiagnosticIds (see dotnet/roslyn#5501): assembly-unification notices that are dropped
    /// before anything is counted, whatever their severity.
    /// </summary>
    public static readonly ImmutableArray<string> SuppressedDiagnosticIds = ["CS1701", "CS1702", "CS1705"];

    /// <summary>
    /// ScriptCompiler.ParseOptions: the newest language version, script kind. The version reaches the script through
    /// <see cref="ScriptOptions.WithLanguageVersion"/>; Roslyn parses every script as <see cref="SourceCodeKind.Script"/>.
    /// </summary>
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest, kind: SourceCodeKind.Script);

    /// <summary>
    /// The nullable rule (dotnet-script issue #411: "when nullable-related warnings are found, convert them to
    /// errors"; upstream 2.x reports e.g. <c>error CS8632</c> for a <c>string?</c> outside a <c>#nullable</c> context).
    /// The set is the compiler's own <c>/warnaserror:nullable</c> group, which includes CS8632 and CS8669
    /// (dotnet/roslyn#41610), rather than a hand-typed range that would go stale as Roslyn adds nullable warnings.
    /// </summary>
    public static readonly ImmutableDictionary<string, ReportDiagnostic> NullableAsErrors =
        CSharpCommandLineParser.Default.Parse(["/warnaserror:nullable"], Environment.CurrentDirectory, null)
            .CompilationOptions.SpecificDiagnosticOptions;

    /// <summary>ScriptCompiler.CreateScriptOptions, with the framework references a .NET host resolves by itself.</summary>
    public static ScriptOptions Options(string scriptPath, OptimizationLevel optimization)
    {
        var scriptDir = Path.GetDirectoryName(scriptPath)!;
        var frameworkDir = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var framework = Directory.EnumerateFiles(frameworkDir, "*.dll")
            .Where(p => !Path.GetFileName(p).StartsWith("System.Private.", StringComparison.Ordinal) || Path.GetFileName(p) == "System.Private.CoreLib.dll")
            .Where(IsManaged)
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p));
        return ScriptOptions.Default
            .WithFilePath(scriptPath)
            .WithFileEncoding(Encoding.UTF8)
            .WithEmitDebugInformation(true)
            .WithReferences(framework)
            .WithImports(ImportedNamespaces)
            .WithLanguageVersion(ParseOptions.LanguageVersion)
            .WithSourceResolver(new SourceFileResolver([], scriptDir))
            .WithMetadataResolver(ScriptMetadataResolver.Default.WithBaseDirectory(scriptDir))
            .WithOptimizationLevel(optimization)
            .WithAllowUnsafe(true);
    }

    /// <summary>
    /// The script (with every file it #load-s) as upstream compiles it: its options, the nullable warnings raised to
    /// errors, and the diagnostics that would stop upstream (errors, the suppressed ids dropped first).
    /// </summary>
    public static (Compilation Compilation, IReadOnlyList<Diagnostic> Errors) Compile(string scriptPath, OptimizationLevel optimization)
    {
        var script = CSharpScript.Create<int>(File.ReadAllText(scriptPath), Options(scriptPath, optimization), typeof(CommandLineScriptGlobals));
        var compilation = script.GetCompilation();
        var options = (CSharpCompilationOptions)compilation.Options;
        compilation = compilation.WithOptions(options.WithSpecificDiagnosticOptions(options.SpecificDiagnosticOptions.SetItems(NullableAsErrors)));
        // ScriptExtensions.GetDiagnostics drops the suppressed ids; EvaluateDiagnostics stops on any error left.
        var errors = compilation.GetDiagnostics()
            .Where(d => !SuppressedDiagnosticIds.Contains(d.Id))
            .Where(d => d.Severity == DiagnosticSeverity.Error)
            .OrderBy(d => d.Location.SourceTree?.FilePath, StringComparer.Ordinal).ThenBy(d => d.Location.SourceSpan.Start)
            .ToList();
        return (compilation, errors);
    }

    static bool IsManaged(string path)
    {
        try { AssemblyName.GetAssemblyName(path); return true; }
        catch (BadImageFormatException) { return false; }
    }
}

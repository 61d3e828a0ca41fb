using System.Diagnostics;
using System.Reflection;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Scripting;
using Microsoft.CodeAnalysis.Text;

namespace LMHarness.Scripting;

/// <summary>
/// Compiles and runs one .csx file in the dotnet-script dialect: <c>#r</c> (paths and <c>nuget:</c>),
/// <c>#load</c>, top-level <c>await</c>, the <c>Args</c> global and dotnet-script's default imports. Compile
/// errors and unhandled exceptions are reported as <c>file:line:col: message</c> pointing into the script.
/// </summary>
public static class ScriptRunner
{
    /// <summary>The namespaces dotnet-script imports into every script; the same here so scripts run under both.</summary>
    public static readonly IReadOnlyList<string> DefaultImports =
    [
        "System", "System.IO", "System.Collections.Generic", "System.Console", "System.Diagnostics",
        "System.Dynamic", "System.Linq", "System.Linq.Expressions", "System.Text", "System.Threading.Tasks",
    ];

    /// <summary>
    /// Exit code of a script that a Ctrl-C (or SIGTERM) stopped after it saved its work (the trainer checkpoints, then the
    /// script writes its outputs, or an experiment stops with <see cref="OperationCanceledException"/>): sysexits.h's
    /// EX_TEMPFAIL, "try again", since running the same command again resumes.
    /// </summary>
    public const int InterruptedSaved = 75;

    /// <summary>
    /// Runs the script; returns the process exit code: its <c>int</c> return value, else 0; 1 on any error;
    /// <see cref="InterruptedSaved"/> when <paramref name="interrupted"/> says a signal came and the script still ended
    /// by itself (normally, or stopped by an <see cref="OperationCanceledException"/>).
    /// </summary>
    public static int Run(string scriptPath, IList<string> args, TextWriter? errors = null, Func<bool>? interrupted = null)
    {
        interrupted ??= () => false;
        errors ??= Console.Error;
        var fullPath = Path.GetFullPath(scriptPath);
        if (!File.Exists(fullPath))
        {
            errors.WriteLine($"{scriptPath}: error: script file not found (looked for {fullPath}).");
            return 1;
        }
        var dir = Path.GetDirectoryName(fullPath)!;
        var warn = (string message) => errors.WriteLine($"{fullPath}: warning: {message}");

        SourceText code;
        using (var stream = File.OpenRead(fullPath))
            code = SourceText.From(stream, Encoding.UTF8); // an encoding is required to emit debug info (line numbers in stack traces)

        var resolver = new ScriptReferenceResolver(dir, HostReferences.Current, warn);
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

        Script<object> script;
        try
        {
            script = CSharpScript.Create(code.ToString(), options, typeof(ScriptGlobals));
            var diagnostics = script.Compile();
            foreach (var d in diagnostics.Where(d => d.Severity == DiagnosticSeverity.Warning && !d.IsSuppressed && d.WarningLevel <= 1))
                errors.WriteLine(Format(d));
            if (diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error))
            {
                foreach (var d in diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error))
                {
                    errors.WriteLine(Format(d));
                    foreach (var (reference, reason) in resolver.Failures)
                        if (d.Id == "CS0006" && d.GetMessage().Contains(reference, StringComparison.Ordinal))
                            errors.WriteLine("  " + reason);
                }
                return 1;
            }
        }
        catch (CompilationErrorException e)
        {
            foreach (var d in e.Diagnostics) errors.WriteLine(Format(d));
            return 1;
        }
        catch (FileNotFoundException e) // a #r the resolver refused, with its reason
        {
            errors.WriteLine($"{fullPath}: error: {e.Message}");
            return 1;
        }

        try
        {
            var state = script.RunAsync(new ScriptGlobals(args), _ => true).GetAwaiter().GetResult();
            if (state.Exception is not null) return ReportException(state.Exception, fullPath, errors, interrupted());
            var code2 = state.ReturnValue is int c ? c : 0;
            return code2 == 0 && interrupted() ? InterruptedSaved : code2;
        }
        catch (Exception e)
        {
            return ReportException(e, fullPath, errors, interrupted());
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

    /// <summary>
    /// One line: the innermost script line the exception passed through, then its message, which for the errors LMHarness
    /// raises on bad input names the file, field or flag and the fix. Exception types, inner causes, the calling lines and
    /// the .NET stack trace are details for LMHarness's developers: LMHARNESS_SCRIPT_TRACE=1 prints them.
    /// </summary>
    static int ReportException(Exception e, string fullPath, TextWriter errors, bool interrupted)
    {
        while (e is TargetInvocationException or AggregateException && e.InnerException is not null)
            e = e.InnerException!;
        if (e is OperationCanceledException && interrupted)
        {
            errors.WriteLine(e.Message); // says what was saved and how to resume; no stack trace for a requested stop
            return InterruptedSaved;
        }
        var frames = new StackTrace(e, fNeedFileInfo: true).GetFrames()
            .Where(f => f.GetFileName() is { } file && file.EndsWith(".csx", StringComparison.OrdinalIgnoreCase))
            .ToList();
        var where = frames.Count > 0
            ? $"{frames[0].GetFileName()}:{frames[0].GetFileLineNumber()}:{Math.Max(1, frames[0].GetFileColumnNumber())}"
            : fullPath;
        var trace = Environment.GetEnvironmentVariable("LMHARNESS_SCRIPT_TRACE") == "1";
        if (IsUserError(e))
            errors.WriteLine($"{where}: error: {Message(e)}");
        else // a fault of LMHarness or of the script, not of its input: the type helps whoever fixes it
            errors.WriteLine($"{where}: error: internal error ({e.GetType().Name}): {Message(e)}" +
                             (trace ? "" : " Set LMHARNESS_SCRIPT_TRACE=1 for the .NET stack trace."));
        if (!trace) return 1;
        for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
            errors.WriteLine($"  caused by {inner.GetType().Name}: {inner.Message}");
        foreach (var f in frames.Skip(1))
            errors.WriteLine($"  called from {f.GetFileName()}:{f.GetFileLineNumber()}:{Math.Max(1, f.GetFileColumnNumber())}");
        errors.WriteLine(e.ToString());
        return 1;
    }

    /// <summary>The exceptions LMHarness and the scripts throw on bad input or a bad state on disk, each with a message
    /// written for the person who gave it.</summary>
    static bool IsUserError(Exception e) =>
        e is ArgumentException or InvalidDataException or InvalidOperationException or IOException or UnauthorizedAccessException
            or FormatException or NotSupportedException or OutOfMemoryException || e.GetType().Name == "TrainingDivergedException";

    /// <summary>The message without what .NET appends for developers (" (Parameter 'x')").</summary>
    static string Message(Exception e) =>
        e is ArgumentException { ParamName: { } p } ? e.Message.Replace($" (Parameter '{p}')", "", StringComparison.Ordinal) : e.Message;
}

using System.Diagnostics;
using System.Reflection;

namespace LMHarness.Scripting;

/// <summary>
/// Runs one .csx file in the dotnet-script dialect: compiled by <see cref="ScriptCompiler"/>, or taken from a
/// <see cref="CompiledScriptCache"/> when one is given and holds the script under its current
/// <see cref="ScriptCacheKey"/>. Compile errors and unhandled exceptions are reported as <c>file:line:col: message</c>
/// pointing into the script.
/// </summary>
public static class ScriptRunner
{
    /// <summary>
    /// Exit code of a script that a Ctrl-C (or SIGTERM) stopped after it saved its work (the trainer checkpoints, then the
    /// script writes its outputs, or an experiment stops with <see cref="OperationCanceledException"/>): sysexits.h's
    /// EX_TEMPFAIL, "try again", since running the same command again resumes.
    /// </summary>
    public const int InterruptedSaved = 75;

    /// <summary>
    /// Runs the script; returns the process exit code: its <c>int</c> return value, else 0; 1 on any error;
    /// <see cref="InterruptedSaved"/> when <paramref name="interrupted"/> says a signal came and the script still ended
    /// by itself (normally, or stopped by an <see cref="OperationCanceledException"/>). With a <paramref name="cache"/>
    /// an unchanged script is not compiled again; <paramref name="debug"/> receives one line saying which it was.
    /// </summary>
    public static int Run(string scriptPath, IList<string> args, TextWriter? errors = null, Func<bool>? interrupted = null,
        CompiledScriptCache? cache = null, TextWriter? debug = null)
    {
        interrupted ??= () => false;
        errors ??= Console.Error;
        var fullPath = Path.GetFullPath(scriptPath);
        if (!File.Exists(fullPath))
        {
            errors.WriteLine($"{scriptPath}: error: script file not found (looked for {fullPath}).");
            return 1;
        }

        string? key = null, damaged = null;
        CompiledScript? compiled = null;
        if (cache is not null)
        {
            key = ScriptCacheKey.Compute(fullPath, ScriptCompiler.Options);
            compiled = cache.TryLoad(fullPath, key, out damaged);
        }
        if (damaged is not null)
            errors.WriteLine($"dotnet script: ignoring the damaged compiled-script cache entry {cache!.EntryPath(fullPath)}: {damaged}; compiling again.");
        if (compiled is not null)
        {
            debug?.WriteLine($"dotnet script: compiled script from the cache: {cache!.EntryPath(fullPath)}");
            foreach (var w in compiled.Warnings) errors.WriteLine(w);
        }
        else
        {
            debug?.WriteLine(cache is null ? "dotnet script: compiling the script (no cache)" : $"dotnet script: compiling the script into {cache.EntryPath(fullPath)}");
            compiled = ScriptCompiler.Compile(fullPath, errors);
            if (compiled is null) return 1;
            if (cache is not null)
            {
                try { cache.Store(fullPath, key!, compiled); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // A cache that cannot be written costs the next run a compile, nothing more.
                    errors.WriteLine($"dotnet script: warning: could not write the compiled-script cache ({e.Message}).");
                }
            }
        }

        try
        {
            var value = new ScriptLoadContext(compiled.ReferencePaths).Run(compiled.Image, new ScriptGlobals(args));
            var code = value is int c ? c : 0;
            return code == 0 && interrupted() ? InterruptedSaved : code;
        }
        catch (Exception e)
        {
            return ReportException(e, fullPath, errors, interrupted());
        }
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

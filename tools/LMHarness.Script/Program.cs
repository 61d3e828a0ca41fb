using System.Runtime.InteropServices;
using LMHarness.Scripting;

// `dotnet script [options] <file.csx> [--] [script args]`: the dotnet-script command line, offline.
LMHarness.Native.NativeLoader.EnsureLoaded(); // before any script can touch TorchSharp

int i = 0;
bool noCache = false, debug = false;
for (; i < args.Length && args[i].StartsWith('-') && !args[i].EndsWith(".csx", StringComparison.OrdinalIgnoreCase); i++)
{
    switch (args[i])
    {
        case "-h" or "--help":
            Usage(Console.Out);
            return 0;
        case "-c" or "--configuration" when i + 1 < args.Length:
            i++; // dotnet-script's Debug/Release switch: this host always compiles scripts optimised with line info
            break;
        case "--no-cache":
            noCache = true; // compile afresh and leave the cache as it is, as upstream's --no-cache does
            break;
        case "-d" or "--debug":
            debug = true; // upstream's "debug output": here, whether the compiled script came from the cache
            break;
        case "--isolated-load-context":
            break; // accepted for dotnet-script compatibility: every script already runs in a load context of its own
        default:
            Console.Error.WriteLine($"dotnet script: unknown option '{args[i]}'.");
            Usage(Console.Error);
            return 2;
    }
}
if (i >= args.Length)
{
    Usage(Console.Error);
    return 2;
}
var scriptArgs = args.Skip(i + 1).ToList();
if (scriptArgs.Count > 0 && scriptArgs[0] == "--") scriptArgs.RemoveAt(0);
// Note Ctrl-C / SIGTERM without acting on them: a running trainer cancels the first one and saves; with nothing to save,
// no handler cancels it and the process ends as usual.
var interrupted = 0;
using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, _ => Interlocked.Increment(ref interrupted));
using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => Interlocked.Increment(ref interrupted));
return ScriptRunner.Run(args[i], scriptArgs, interrupted: () => Volatile.Read(ref interrupted) > 0,
    cache: noCache ? null : CompiledScriptCache.Default, debug: debug ? Console.Error : null);

static void Usage(TextWriter w) => w.WriteLine("""
    usage: dotnet script [options] <file.csx> [--] [args for the script]
      Runs a C# script (dotnet-script dialect: #r "x.dll", #r "nuget: Id, Version", #load "other.csx", Args)
      with LMHarness.Core, offline. Errors are reported as file:line:col.
    options: -h|--help; --no-cache (compile the script afresh; the cache is under $TMPDIR/dotnet-script/);
      -d|--debug (say whether the host was built and the script came from the cache);
      -c|--configuration <Debug|Release>, --isolated-load-context (accepted for dotnet-script, ignored).
    """);

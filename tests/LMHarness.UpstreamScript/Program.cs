using System.Reflection;
using System.Runtime.Loader;
using System.Security.Cryptography;
using System.Text;
using Microsoft.CodeAnalysis;
using LMHarness.UpstreamScript;
using Microsoft.CodeAnalysis.CSharp.Scripting.Hosting;
using Microsoft.CodeAnalysis.Scripting.Hosting;

// Runs a .csx the way upstream dotnet-script 2.x does (dotnet-script/dotnet-script: Program.cs, ExecuteScriptCommand,
// ScriptPublisher.CreateScriptAssembly, ScriptRunner.Execute), minus NuGet restore:
//  1. its own options before `--` (-c/--configuration, --no-cache, --isolated-load-context, -d/--debug, -h/--help);
//     everything else after the script, and everything after `--`, goes to the script's Args;
//  2. the script (with its #load-ed files) compiles to <temp>/dotnet-script/<script folder>/execution-cache/script.dll,
//     Debug unless -c Release, returning int, under upstream's compilation options and diagnostic rules
//     (UpstreamCompiler.cs: its imports, the suppressed ids, nullable warnings as errors);
//  3. the assemblies the script #r's (compilation.DirectiveReferences) are copied beside script.dll, and nothing else:
//     not their dependencies;
//  4. a hash of the script files and the configuration is kept beside it (script.sha256): while the script text is
//     unchanged the cached script.dll and its copies are reused, however the #r-ed DLLs changed since (--no-cache
//     rebuilds);
//  5. script.dll is loaded with Assembly.LoadFrom (or, with --isolated-load-context, into a fresh AssemblyLoadContext
//     that probes the folder of the assembly asking), and Submission#0.<Factory> is invoked with CommandLineScriptGlobals.
// A runtime exception is printed with ex.ToString() and gives exit code 1, as upstream's ScriptRunner does.

var before = args.TakeWhile(a => a != "--").ToList();
var after = args.SkipWhile(a => a != "--").Skip(1);
bool noCache = false, isolated = false, debugOutput = false;
var configuration = "Debug";
string? file = null;
var scriptArgs = new List<string>();
for (int i = 0; i < before.Count; i++)
{
    switch (before[i])
    {
        case "-h" or "-?" or "--help": Console.WriteLine("usage: upstream-script [--no-cache] [--isolated-load-context] [-c Debug|Release] <file.csx> [--] [args]"); return 0;
        case "--no-cache": noCache = true; break;
        case "--isolated-load-context": isolated = true; break;
        case "-d" or "--debug": debugOutput = true; break;
        case "-c" or "--configuration" when i + 1 < before.Count: configuration = before[++i]; break;
        default:
            if (file is null && !before[i].StartsWith('-')) file = before[i];
            else scriptArgs.Add(before[i]);
            break;
    }
}
scriptArgs.AddRange(after);
if (file is null) { Console.Error.WriteLine("upstream-script: no script given"); return 1; }
var scriptPath = Path.GetFullPath(file);
if (!File.Exists(scriptPath)) { Console.Error.WriteLine($"Couldn't find file '{file}'"); return 1; }

var scriptDir = Path.GetDirectoryName(scriptPath)!;
var cache = Path.Combine(Path.GetTempPath(), "dotnet-script", scriptDir.TrimStart(Path.DirectorySeparatorChar), "execution-cache");
var library = Path.Combine(cache, "script.dll");
var optimization = string.Equals(configuration, "release", StringComparison.OrdinalIgnoreCase) ? OptimizationLevel.Release : OptimizationLevel.Debug;
var hash = Hash(scriptPath, scriptDir, optimization);
var hashFile = Path.Combine(cache, "script.sha256");
if (noCache || !File.Exists(library) || !File.Exists(hashFile) || File.ReadAllText(hashFile) != hash)
{
    var error = Compile(scriptPath, scriptDir, cache, library, optimization);
    if (error is not null) { Console.Error.WriteLine(error); return 1; }
    File.WriteAllText(hashFile, hash);
}
else if (debugOutput)
    Console.Error.WriteLine($"upstream-script: reusing {library}");

Assembly assembly;
if (isolated)
{
    var context = new AssemblyLoadContext("ScriptAssemblyLoadContext");
    context.Resolving += (alc, name) => ProbeBesideRequester(alc, name);
    assembly = context.LoadFromAssemblyPath(library);
}
else
    assembly = Assembly.LoadFrom(library);

var globals = new CommandLineScriptGlobals(Console.Out, CSharpObjectFormatter.Instance);
foreach (var a in scriptArgs) globals.Args.Add(a);
var factory = assembly.GetType("Submission#0")!.GetMethod("<Factory>", BindingFlags.Static | BindingFlags.Public)!;
try
{
    var task = (Task<int>)factory.Invoke(null, [new object?[] { globals, null }])!;
    return await task;
}
catch (Exception e)
{
    if (e is TargetInvocationException { InnerException: { } inner }) e = inner;
    Console.Error.WriteLine(e.ToString());
    return 1;
}

// The files of the script and every file it #load-s, in order, then the configuration: upstream's cache key.
static string Hash(string scriptPath, string scriptDir, OptimizationLevel optimization)
{
    using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    var seen = new HashSet<string>();
    void Add(string path)
    {
        if (!seen.Add(path)) return;
        var text = File.ReadAllBytes(path);
        sha.AppendData(text);
        foreach (var line in File.ReadLines(path))
            if (line.TrimStart().StartsWith("#load \"", StringComparison.Ordinal))
            {
                var target = line.Trim()[7..^1];
                Add(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, target)));
            }
    }
    Add(scriptPath);
    sha.AppendData(Encoding.UTF8.GetBytes(optimization.ToString()));
    return Convert.ToBase64String(sha.GetHashAndReset());
}

static string? Compile(string scriptPath, string scriptDir, string cache, string library, OptimizationLevel optimization)
{
    Directory.CreateDirectory(cache);
    // Upstream's options and diagnostic rules (UpstreamCompiler.cs): a nullable warning stops the script as upstream's does.
    var (compilation, errors) = UpstreamCompiler.Compile(scriptPath, optimization);
    if (errors.Count > 0) return string.Join(Environment.NewLine, errors.Select(d => d.ToString()));
    using (var pe = File.Create(library))
    {
        var result = compilation.Emit(pe);
        if (!result.Success)
            return string.Join(Environment.NewLine, result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString()));
    }
    // ScriptPublisher.CreateScriptAssembly: each #r-ed file is copied beside script.dll; what it depends on is not.
    foreach (var reference in compilation.DirectiveReferences.OfType<PortableExecutableReference>())
    {
        var source = Path.GetFullPath(reference.FilePath!);
        var target = Path.Combine(cache, Path.GetFileName(source));
        if (source != target) File.Copy(source, target, overwrite: true);
    }
    return null;
}

// Assembly.LoadFrom's rule, for the isolated context: a dependency is looked for beside the assembly that asks for it.
static Assembly? ProbeBesideRequester(AssemblyLoadContext context, AssemblyName name)
{
    foreach (var loaded in context.Assemblies)
    {
        if (string.IsNullOrEmpty(loaded.Location)) continue;
        var candidate = Path.Combine(Path.GetDirectoryName(loaded.Location)!, name.Name + ".dll");
        if (File.Exists(candidate)) return context.LoadFromAssemblyPath(candidate);
    }
    return null;
}

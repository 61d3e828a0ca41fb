using LMHarness.Scripting;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace LMHarness.Tests.Scripting;

/// <summary>
/// The script host's compiled-script cache: an unchanged script is not compiled again; an edit to it, to a file it
/// #loads or a rebuild of a DLL it #r-s compiles it again; a damaged or half-written entry is never loaded but rebuilt;
/// --no-cache bypasses it. Whether a run compiled is read from the host's debug line, since a stale cached script can
/// print the same as a fresh one (it binds to the new DLL by name at run time).
/// </summary>
public sealed class CompiledScriptCacheTests : IDisposable
{
    readonly TempDir _dir = new();
    readonly CompiledScriptCache _cache;

    public CompiledScriptCacheTests() => _cache = new CompiledScriptCache(_dir.File("cache"));

    public void Dispose() => _dir.Dispose();

    string Write(string name, string code)
    {
        var path = _dir.File(name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, code);
        return path;
    }

    /// <summary>Runs through the cache; returns the exit code, the errors and the host's debug line.</summary>
    (int Code, string Errors, string Debug) Run(string script, params string[] args)
    {
        var errors = new StringWriter();
        var debug = new StringWriter();
        var code = ScriptRunner.Run(script, args.ToList(), errors, cache: _cache, debug: debug);
        return (code, errors.ToString(), debug.ToString());
    }

    const string FromCache = "compiled script from the cache";
    const string Compiling = "compiling the script into";

    [Fact]
    public void An_unchanged_script_runs_from_the_cache_and_an_edited_one_is_recompiled()
    {
        var script = Write("s/main.csx", "return 3;\n");
        var first = Run(script);
        first.Code.Should().Be(3, first.Errors);
        first.Debug.Should().Contain(Compiling);
        File.Exists(_cache.EntryPath(script)).Should().BeTrue();

        var second = Run(script);
        second.Code.Should().Be(3, second.Errors);
        second.Debug.Should().Contain(FromCache);

        File.WriteAllText(script, "return 4;\n");
        var edited = Run(script);
        edited.Debug.Should().Contain(Compiling);
        edited.Code.Should().Be(4, "the edited script runs, not the cached one");
        Run(script).Debug.Should().Contain(FromCache, "the recompiled script replaced the entry");
    }

    [Fact]
    public void An_edit_to_a_loaded_file_recompiles_the_script()
    {
        var lib = Write("s/lib/value.csx", "static int Value() => 5;\n");
        var script = Write("s/main.csx", "#load \"lib/value.csx\"\nreturn Value();\n");
        Run(script).Code.Should().Be(5);
        Run(script).Debug.Should().Contain(FromCache);

        File.WriteAllText(lib, "static int Value() => 6;\n");
        var edited = Run(script);
        edited.Debug.Should().Contain(Compiling);
        edited.Code.Should().Be(6);
    }

    [Fact]
    public void A_rebuilt_referenced_dll_recompiles_the_script()
    {
        var dll = _dir.File("s/refs/Lib.dll");
        BuildLibrary(dll, 7);
        var script = Write("s/main.csx", "#r \"refs/Lib.dll\"\nreturn Lib.V.X();\n");
        Run(script).Code.Should().Be(7);
        Run(script).Debug.Should().Contain(FromCache);

        BuildLibrary(dll, 8); // a new build: a new module version id
        var rebuilt = Run(script);
        rebuilt.Debug.Should().Contain(Compiling, "the key holds the MVID of every #r-ed DLL");
        rebuilt.Code.Should().Be(8);
    }

    [Fact]
    public void Warnings_of_the_compile_are_repeated_when_the_script_comes_from_the_cache()
    {
        var script = Write("s/warns.csx", "#warning from the script\nreturn 0;\n");
        var first = Run(script);
        first.Errors.Should().Contain("warning CS1030: #warning: 'from the script'");
        var second = Run(script);
        second.Debug.Should().Contain(FromCache);
        second.Errors.Should().Be(first.Errors);
    }

    public static TheoryData<string> Damage => ["flip a byte of the image", "cut in half", "empty", "not an entry"];

    [Theory]
    [MemberData(nameof(Damage))]
    public void A_damaged_or_half_written_entry_is_ignored_and_rebuilt(string damage)
    {
        var script = Write("s/main.csx", "return 9;\n");
        Run(script).Code.Should().Be(9);
        var entry = _cache.EntryPath(script);
        var bytes = File.ReadAllBytes(entry);
        File.WriteAllBytes(entry, damage switch
        {
            "flip a byte of the image" => Flip(bytes, bytes.Length - 100),
            "cut in half" => bytes[..(bytes.Length / 2)],
            "empty" => [],
            _ => "#!/bin/sh\necho not a compiled script\n"u8.ToArray(),
        });

        var run = Run(script);
        run.Errors.Should().Contain($"ignoring the damaged compiled-script cache entry {entry}");
        run.Debug.Should().Contain(Compiling, "a damaged entry is never loaded");
        run.Code.Should().Be(9);
        Run(script).Debug.Should().Contain(FromCache, "the entry was rewritten whole");
    }

    [Fact]
    public void An_entry_written_for_another_key_is_not_loaded()
    {
        var script = Write("s/main.csx", "return 1;\n");
        var key = ScriptCacheKey.Compute(script, ScriptCompiler.Options);
        _cache.Store(script, key, new CompiledScript([1, 2, 3], [], []));
        _cache.TryLoad(script, key, out var damaged).Should().NotBeNull();
        damaged.Should().BeNull();
        _cache.TryLoad(script, ScriptCacheKey.Compute(script, ScriptCompiler.Options + ";debug"), out damaged).Should().BeNull("another compilation option is another key");
        damaged.Should().BeNull("an entry of another key is not damaged, only stale");
    }

    [Fact]
    public void The_host_caches_under_TMPDIR_and_no_cache_bypasses_it()
    {
        var script = Write("s/main.csx", "Console.WriteLine(\"ran\");\n");
        var tmp = _dir.File("tmp");
        Directory.CreateDirectory(tmp);
        var env = new Dictionary<string, string?> { ["TMPDIR"] = tmp };
        var entry = new CompiledScriptCache(Path.Combine(tmp, "dotnet-script")).EntryPath(script);

        var noCache = ChildProcess.Run("dotnet", [RepoPaths.HostDll, "--no-cache", "-d", script], _dir.Path, env);
        noCache.Code.Should().Be(0, noCache.All);
        noCache.Out.Should().Contain("ran");
        noCache.Err.Should().Contain("compiling the script (no cache)");
        File.Exists(entry).Should().BeFalse("--no-cache neither reads nor writes the cache");

        var first = ChildProcess.Run("dotnet", [RepoPaths.HostDll, "-d", script], _dir.Path, env);
        first.Err.Should().Contain($"{Compiling} {entry}");
        var second = ChildProcess.Run("dotnet", [RepoPaths.HostDll, "-d", script], _dir.Path, env);
        second.Code.Should().Be(0, second.All);
        second.Out.Should().Contain("ran");
        second.Err.Should().Contain($"{FromCache}: {entry}");
    }

    static byte[] Flip(byte[] bytes, int at)
    {
        var copy = bytes.ToArray();
        copy[at] ^= 0x5A;
        return copy;
    }

    /// <summary>A one-class library <c>Lib.V.X() => value</c> compiled to <paramref name="path"/>.</summary>
    static void BuildLibrary(string path, int value)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var tree = CSharpSyntaxTree.ParseText($"namespace Lib; public static class V {{ public static int X() => {value}; }}");
        var compilation = CSharpCompilation.Create("Lib", [tree], [MetadataReference.CreateFromFile(typeof(object).Assembly.Location)],
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, deterministic: true));
        using var file = File.Create(path);
        compilation.Emit(file).Success.Should().BeTrue();
    }
}

using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace LMHarness.Native;

/// <summary>
/// Makes TorchSharp's native wrapper load on Linux hosts whose libstdc++ is older than the one it was
/// linked against (GCC 12: Debian 12, Ubuntu 22.04), with no action from the user.
/// </summary>
/// <remarks>
/// <para>The fix, done once per process before TorchSharp touches native code:</para>
/// <list type="number">
/// <item>Read the symbol versions <c>libLibTorchSharp.so</c> needs from <c>libstdc++.so.6</c> and the versions the
/// process's own libstdc++ defines. If none is missing, do nothing.</item>
/// <item>Otherwise write a copy with the missing requirements marked <c>VER_FLG_WEAK</c> into a cache folder
/// (temp name, then rename; the NuGet cache is never touched) and log one line.</item>
/// <item>Load libc10/libtorch_cpu/libtorch from the folder TorchSharp itself loads them from, then the patched copy.
/// The copy's <c>DT_NEEDED</c> entries resolve by soname to those already-loaded libraries, so there is exactly one
/// libtorch in the process, and TorchSharp's later <c>dlopen("libLibTorchSharp.so")</c> finds the copy by soname.</item>
/// </list>
/// Runs automatically from this assembly's module initializer (after <see cref="BuildFolder.Install"/>); hosts that may call TorchSharp before touching
/// LMHarness (F# scripts, test assemblies) call <see cref="EnsureLoaded"/> first.
/// </remarks>
public static class NativeLoader
{
    static readonly object Gate = new();
    static bool _done;

    /// <summary>Path of the patched copy in use, or null when the host needed none (or is not Linux).</summary>
    public static string? PatchedLibraryPath { get; private set; }

    /// <summary>
    /// LMHarness.Core's module initializer. The dependency resolver goes in first, in a method that touches no dependency
    /// type: a script host may have loaded this assembly from a copy with none of its dependencies beside it (see
    /// <see cref="BuildFolder"/>), and the natives need TorchSharp's assembly.
    /// </summary>
    [ModuleInitializer]
    internal static void Initialize()
    {
        BuildFolder.Install(typeof(NativeLoader).Assembly);
        LoadNatives();
    }

    [MethodImpl(MethodImplOptions.NoInlining)] // compiled only after the resolver is in place
    static void LoadNatives() => EnsureLoaded();

    /// <summary>Idempotent: applies the fix when this host needs it. Throws with the cause and the fix when it cannot.</summary>
    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_done) return;
            _done = true;
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || RuntimeInformation.ProcessArchitecture != Architecture.X64)
                return;
            var wrapper = FindNative("libLibTorchSharp.so", "torchsharp");
            if (wrapper is null) return; // TorchSharp reports its own missing-package error better than we can.
            var hostStdCxx = FindHostLibStdCxx();
            if (hostStdCxx is null) return;

            byte[] wrapperBytes = File.ReadAllBytes(wrapper);
            var missing = MissingVersions(wrapperBytes, wrapper, File.ReadAllBytes(hostStdCxx), hostStdCxx);
            if (missing.Count == 0) return;

            var torchDir = Path.GetDirectoryName(FindNative("libtorch_cpu.so", "libtorch-cpu-linux-x64")
                ?? throw new DllNotFoundException("libtorch_cpu.so was not found beside TorchSharp nor in the NuGet cache: reference the package libtorch-cpu-linux-x64 2.10.0."))!;
            var patched = WritePatchedCopy(wrapperBytes, wrapper, missing);
            foreach (var lib in new[] { "libc10.so", "libtorch_cpu.so", "libtorch.so" })
                NativeLibrary.Load(Path.Combine(torchDir, lib));
            var handle = NativeLibrary.Load(patched);
            TrySetResolver(handle);
            PatchedLibraryPath = patched;
            NoteWriter.WriteLine($"LMHarness: {hostStdCxx} lacks {string.Join(", ", missing)} (declared, never called, by TorchSharp); using patched {patched}");
        }
    }

    /// <summary>
    /// Where the one-line note goes: standard error for scripts and programs, standard output in a .NET Interactive
    /// kernel (Jupyter, VS Code's Polyglot Notebooks), which shows a cell's standard error in red, as a failure.
    /// </summary>
    static TextWriter NoteWriter =>
        AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name == "Microsoft.DotNet.Interactive") ? Console.Out : Console.Error;

    /// <summary>The versions <paramref name="wrapper"/> needs from libstdc++.so.6 that <paramref name="stdCxx"/> does not define.</summary>
    public static IReadOnlyList<string> MissingVersions(byte[] wrapper, string wrapperName, byte[] stdCxx, string stdCxxName)
    {
        var defined = ElfVersionNeeds.ReadDefinitions(stdCxx, stdCxxName);
        return ElfVersionNeeds.ReadNeeds(wrapper, wrapperName)
            .Where(n => n.File == "libstdc++.so.6" && !n.IsWeak && !defined.Contains(n.Name))
            .Select(n => n.Name).Distinct().ToList();
    }

    /// <summary>Writes (once, atomically) the weak-marked copy into the cache folder and returns its path.</summary>
    static string WritePatchedCopy(byte[] original, string originalPath, IReadOnlyList<string> missing)
    {
        var hash = Convert.ToHexString(SHA256.HashData(original))[..16].ToLowerInvariant();
        var dir = LMHarness.IO.CacheFolder.Path("native", hash);
        var target = Path.Combine(dir, "libLibTorchSharp.so");
        if (File.Exists(target)) return target;
        Directory.CreateDirectory(dir);
        var patched = ElfVersionNeeds.MarkWeak(original, originalPath, missing);
        LMHarness.IO.AtomicFile.Write(target, s => s.Write(patched));
        return target;
    }

    static void TrySetResolver(IntPtr handle)
    {
        try
        {
            NativeLibrary.SetDllImportResolver(TorchSharpAssembly, (name, _, _) => name == "LibTorchSharp" ? handle : IntPtr.Zero);
        }
        catch (InvalidOperationException)
        {
            // Another host (e.g. F# Interactive) already owns TorchSharp's resolver; the soname match still applies.
        }
    }

    static Assembly TorchSharpAssembly => typeof(TorchSharp.torch).Assembly;

    /// <summary>Finds a native file where TorchSharp looks first (beside its assembly, the app folder), then in the NuGet cache.</summary>
    static string? FindNative(string file, string package)
    {
        var roots = new List<string?> { Path.GetDirectoryName(TorchSharpAssembly.Location), AppContext.BaseDirectory };
        foreach (var root in roots.Where(r => !string.IsNullOrEmpty(r)).ToList())
            roots.Add(Path.Combine(root!, "runtimes", "linux-x64", "native"));
        foreach (var root in roots.Where(r => !string.IsNullOrEmpty(r)))
            if (File.Exists(Path.Combine(root!, file))) return Path.Combine(root!, file);

        var nuget = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (string.IsNullOrEmpty(nuget))
            nuget = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var packageDir = Path.Combine(nuget, package);
        if (!Directory.Exists(packageDir)) return null;
        var wanted = package == "torchsharp" ? "0.107.0" : "2.10.0";
        var candidate = Path.Combine(packageDir, wanted, "runtimes", "linux-x64", "native", file);
        return File.Exists(candidate) ? candidate : null;
    }

    /// <summary>The libstdc++.so.6 this process binds to, found from <c>/proc/self/maps</c> after loading it by soname.</summary>
    static string? FindHostLibStdCxx()
    {
        if (!NativeLibrary.TryLoad("libstdc++.so.6", out _)) return null;
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            int slash = line.IndexOf('/');
            if (slash >= 0 && Path.GetFileName(line[slash..]).StartsWith("libstdc++.so", StringComparison.Ordinal))
                return line[slash..].Trim();
        }
        return null;
    }
}

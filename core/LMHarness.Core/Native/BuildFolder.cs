using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Runtime.Loader;

namespace LMHarness.Native;

/// <summary>
/// Lets an LMHarness assembly run from a copy that sits apart from its dependencies, and refuses a copy that is not
/// the current build.
/// <para>Upstream dotnet-script compiles a script into its own cache folder and copies there only the DLLs the script
/// <c>#r</c>s, not what they depend on (TorchSharp's and Microsoft.ML.Tokenizers' assemblies, OxyPlot, Spectre.Console,
/// ...), and keeps that copy while the script's text is unchanged, however often the core is rebuilt. So every LMHarness
/// assembly records, at build time, the folder it was built into (assembly metadata <see cref="MetadataKey"/>), where
/// MSBuild put all of its dependencies; its module initializer calls <see cref="Install"/> before anything touches a
/// dependency, which (1) resolves any assembly its load context cannot find from that folder, and (2) when the assembly
/// was loaded from somewhere else than that folder or the application's own folder (i.e. from a script host's copy),
/// compares the copy's module version id with the build's and refuses a copy of an older or newer build, naming the one
/// command that refreshes it.</para>
/// </summary>
public static class BuildFolder
{
    /// <summary>The <see cref="AssemblyMetadataAttribute"/> key holding the absolute build output folder.</summary>
    public const string MetadataKey = "LMHarnessBuildFolder";

    // Build folders per load context, most recently installed first: LMHarness.Lab installs after LMHarness.Core (its
    // initializer loads the core), and its folder holds the core's dependencies too, plus the Lab's own natives (Skia).
    static readonly Dictionary<AssemblyLoadContext, List<string>> Folders = [];

    /// <summary>The folder <paramref name="assembly"/> was built into, or null when it records none.</summary>
    public static string? Of(Assembly assembly) =>
        assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == MetadataKey)?.Value;

    /// <summary>
    /// Resolves what <paramref name="assembly"/>'s load context misses from its build folder, then refuses a stale copy
    /// (throws <see cref="InvalidOperationException"/> naming both files and the fix). References no dependency type, so
    /// it can run first in a module initializer.
    /// </summary>
    public static void Install(Assembly assembly)
    {
        var folder = Of(assembly);
        if (folder is null) return;
        var context = AssemblyLoadContext.GetLoadContext(assembly) ?? AssemblyLoadContext.Default;
        lock (Folders)
        {
            if (!Folders.TryGetValue(context, out var folders))
            {
                Folders[context] = folders = [];
                context.Resolving += Resolve;
                context.ResolvingUnmanagedDll += ResolveNative;
            }
            if (!folders.Contains(folder)) folders.Insert(0, folder);
        }
        if (StaleCopyError(assembly.Location, assembly.ManifestModule.ModuleVersionId, folder, Environment.GetCommandLineArgs()) is { } error)
            throw new InvalidOperationException(error);
    }

    static Assembly? Resolve(AssemblyLoadContext context, AssemblyName name) =>
        string.IsNullOrEmpty(name.Name) || Find(context, name.Name + ".dll") is not { } path ? null : context.LoadFromAssemblyPath(path);

    // A native library a dependency asks for by name (e.g. SkiaSharp's libSkiaSharp) when the default probing missed it.
    static IntPtr ResolveNative(Assembly requester, string name)
    {
        var context = AssemblyLoadContext.GetLoadContext(requester) ?? AssemblyLoadContext.Default;
        foreach (var file in new[] { name, $"lib{name}.so", $"{name}.so" })
            if (Find(context, file) is { } path) return System.Runtime.InteropServices.NativeLibrary.Load(path);
        return IntPtr.Zero;
    }

    static string? Find(AssemblyLoadContext context, string file)
    {
        lock (Folders)
            return Folders.TryGetValue(context, out var folders)
                ? folders.Select(f => Path.Combine(f, file)).FirstOrDefault(File.Exists)
                : null;
    }

    /// <summary>
    /// Null when the assembly loaded from <paramref name="loadedFrom"/> (module version id <paramref name="loadedMvid"/>)
    /// is its build's own file, sits in the application's folder (apps, tests and the repository's script host carry
    /// their own copies), or its build folder has no such file to compare with; otherwise the error to show: which copy,
    /// which build, and the command (from the host's <paramref name="commandLine"/>) that replaces the copy.
    /// </summary>
    public static string? StaleCopyError(string loadedFrom, Guid loadedMvid, string buildFolder, IReadOnlyList<string> commandLine)
    {
        if (string.IsNullOrEmpty(loadedFrom)) return null; // loaded from bytes: nothing to compare
        var dir = Path.GetFullPath(Path.GetDirectoryName(loadedFrom)!);
        if (SameFolder(dir, buildFolder) || SameFolder(dir, AppContext.BaseDirectory)) return null;
        var built = Path.Combine(buildFolder, Path.GetFileName(loadedFrom));
        if (!File.Exists(built) || Mvid(built) == loadedMvid) return null;
        var head = $"{Path.GetFileName(loadedFrom)} was loaded from {loadedFrom}, a copy of another build: the build in {buildFolder} " +
                   "has changed since the copy was made. ";
        // A build output (it has a .deps.json) is refreshed by building it; a script host's cache by running without it.
        return Directory.EnumerateFiles(dir, "*.deps.json").Any()
            ? head + $"That folder is another project's build output: rebuild that project (dotnet build {ProjectOf(dir)} -c Release)."
            : head + "A script host that caches a script's compiled form (upstream dotnet-script keeps it while the script's text is " +
                     $"unchanged) still holds the old copy; refresh it with: {RefreshCommand(commandLine)}";
    }

    // The project folder of a build output folder (<project>/bin/<configuration>/...).
    static string ProjectOf(string outputFolder)
    {
        var bin = $"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}";
        var i = (outputFolder + Path.DirectorySeparatorChar).LastIndexOf(bin, StringComparison.Ordinal);
        return i > 0 ? outputFolder[..i] : outputFolder;
    }

    /// <summary>The command that reruns the script without the host's cache: upstream dotnet-script's <c>--no-cache</c>.</summary>
    static string RefreshCommand(IReadOnlyList<string> commandLine)
    {
        var args = commandLine.Skip(1).Where(a => a != "--no-cache").ToList();
        return args.Any(a => a.EndsWith(".csx", StringComparison.OrdinalIgnoreCase))
            ? "dotnet script --no-cache " + string.Join(' ', args.Select(Quote))
            : "dotnet script --no-cache <script.csx> -- <args> (or clear the script host's cache)";
    }

    static string Quote(string a) => a.Length > 0 && a.All(c => char.IsLetterOrDigit(c) || "-_./=:,@+".Contains(c)) ? a : "'" + a.Replace("'", "'\\''") + "'";

    static bool SameFolder(string a, string b) =>
        string.Equals(Path.TrimEndingDirectorySeparator(Path.GetFullPath(a)), Path.TrimEndingDirectorySeparator(Path.GetFullPath(b)), StringComparison.Ordinal);

    /// <summary>The module version id of the assembly file at <paramref name="path"/>, read from its metadata (not loaded).</summary>
    public static Guid Mvid(string path)
    {
        using var stream = File.OpenRead(path);
        using var pe = new PEReader(stream);
        var reader = pe.GetMetadataReader();
        return reader.GetGuid(reader.GetModuleDefinition().Mvid);
    }
}

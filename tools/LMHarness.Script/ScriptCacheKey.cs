using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace LMHarness.Scripting;

/// <summary>
/// What a compiled script depends on, as one SHA-256: upstream dotnet-script's key (the text of the script and of every
/// file it <c>#load</c>s, and the configuration) plus what upstream leaves out and we must not: the module version id
/// (MVID) of every assembly the script can compile against (the host's own assemblies, which include LMHarness, and
/// any <c>#r</c>-ed DLL outside the host), the runtime (for the shared framework), the host's own MVID and the
/// compilation options. A rebuilt core has a new MVID, so its scripts recompile; upstream would keep the stale copy.
/// Computing it reads files and PE headers only: no compiler is loaded.
/// </summary>
public static partial class ScriptCacheKey
{
    /// <summary>The key of <paramref name="scriptPath"/> (a full path) compiled with <paramref name="options"/>.</summary>
    public static string Compute(string scriptPath, string options)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string text)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            sha.AppendData(BitConverter.GetBytes(bytes.Length)); // length-prefixed: no two sequences of parts collide
            sha.AppendData(bytes);
        }
        Add(options);
        Add(Environment.Version.ToString());
        Add(HostAssemblies.FrameworkDirectory);
        Add(typeof(ScriptCacheKey).Assembly.ManifestModule.ModuleVersionId.ToString());
        foreach (var (name, path) in HostAssemblies.Application.OrderBy(p => p.Key, StringComparer.OrdinalIgnoreCase))
            Add($"{name}={Mvid(path)}");

        var seen = new HashSet<string>(StringComparer.Ordinal);
        void AddScript(string path)
        {
            if (!seen.Add(path)) return; // a file #load-ed twice is compiled once
            Add(path); // errors and stack traces name it
            if (!File.Exists(path)) { Add("missing"); return; } // the compiler reports it; the key only has to differ
            var text = File.ReadAllBytes(path);
            sha.AppendData(BitConverter.GetBytes(text.Length));
            sha.AppendData(text);
            var dir = Path.GetDirectoryName(path)!;
            foreach (Match m in Directive().Matches(Encoding.UTF8.GetString(text)))
            {
                var target = m.Groups[2].Value;
                if (m.Groups[1].Value == "load") AddScript(Path.GetFullPath(Path.Combine(dir, target)));
                else if (!target.StartsWith("nuget:", StringComparison.OrdinalIgnoreCase)) AddReference(Path.GetFullPath(Path.Combine(dir, target)));
            }
        }
        void AddReference(string path)
        {
            // A DLL the host carries binds to the host's copy, whose MVID is in the key already; any other is read from disk.
            if (HostAssemblies.Application.ContainsKey(Path.GetFileNameWithoutExtension(path))) return;
            Add($"{path}={(File.Exists(path) ? Mvid(path) : "missing")}");
        }
        AddScript(scriptPath);
        return Convert.ToHexString(sha.GetHashAndReset());
    }

    /// <summary>The module version id of an assembly file: a new one for every build whose output differs.</summary>
    static string Mvid(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            using var pe = new PEReader(stream);
            var md = pe.GetMetadataReader();
            return md.GetGuid(md.GetModuleDefinition().Mvid).ToString();
        }
        catch (Exception e) when (e is BadImageFormatException or InvalidOperationException or IOException)
        {
            return "unreadable"; // not an assembly (or gone): compiling says what is wrong with it
        }
    }

    // `#load "x.csx"` and `#r "y.dll"` lines, as upstream's ScriptFilesResolver reads them.
    [GeneratedRegex("""^\s*#(load|r)\s+"([^"]+)"\s*$""", RegexOptions.Multiline)]
    private static partial Regex Directive();
}

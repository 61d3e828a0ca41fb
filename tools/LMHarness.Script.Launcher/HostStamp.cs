using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

/// <summary>
/// The launcher's fast up-to-date check. MSBuild's own check costs seconds on every call; this one hashes what the
/// script host's build reads from the clone (every file of the host project and of the projects it references,
/// transitively, bin/ and obj/ aside; the Directory.Build.*, Directory.Packages.props, global.json and NuGet.config
/// files above them), the chosen TorchBackend and the runtime, in tens of milliseconds. The stamp written after the
/// last successful build holds that hash and the size and time of the built host and its deps.json: when both still
/// match, MSBuild has nothing to do and is not run. Contents are hashed, not times, so a checkout or an edit undone
/// is judged by what the files say.
/// </summary>
sealed partial class HostStamp
{
    static readonly string[] BuildFiles = ["Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", "global.json", "NuGet.Config", "nuget.config"];

    readonly string _root, _project, _stampFile;
    readonly string[] _outputs;

    /// <param name="root">The clone.</param>
    /// <param name="hostProject">The host's .csproj, relative to the clone.</param>
    /// <param name="outputs">The built files whose presence and identity the stamp also records (relative to the clone).</param>
    public HostStamp(string root, string hostProject, params string[] outputs)
    {
        _root = root;
        _project = Path.GetFullPath(Path.Combine(root, hostProject));
        _outputs = outputs.Select(o => Path.Combine(root, o)).ToArray();
        // obj/ is the build's own scratch folder: gone after a clean or in a fresh clone, and the stamp with it.
        _stampFile = Path.Combine(Path.GetDirectoryName(_project)!, "obj", "lmharness-host.stamp");
    }

    /// <summary>Where the stamp of the last successful build is kept.</summary>
    public string StampFile => _stampFile;

    /// <summary>The hash of the host's build inputs for <paramref name="backend"/>.</summary>
    public string Inputs(string backend)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string text)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            sha.AppendData(BitConverter.GetBytes(bytes.Length));
            sha.AppendData(bytes);
        }
        Add($"backend={backend}");
        Add($"runtime={Environment.Version}");
        var files = new SortedSet<string>(StringComparer.Ordinal);
        var projects = new HashSet<string>(StringComparer.Ordinal);
        void AddProject(string csproj)
        {
            if (!projects.Add(csproj)) return;
            var dir = Path.GetDirectoryName(csproj)!;
            AddTree(dir, files);
            for (var d = new DirectoryInfo(dir); d is not null && d.FullName.Length >= _root.Length; d = d.Parent)
                foreach (var name in BuildFiles)
                    if (File.Exists(Path.Combine(d.FullName, name))) files.Add(Path.Combine(d.FullName, name));
            if (!File.Exists(csproj)) return;
            foreach (Match m in ProjectReference().Matches(File.ReadAllText(csproj)))
                AddProject(Path.GetFullPath(Path.Combine(dir, m.Groups[1].Value.Replace('\\', '/'))));
        }
        AddProject(_project);
        foreach (var file in files)
        {
            Add(Path.GetRelativePath(_root, file));
            byte[] bytes;
            try { bytes = File.ReadAllBytes(file); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone since it was listed (an editor's temporary file) or unreadable: a hash no build stamp holds, so
                // this call builds; MSBuild says what is wrong if the file matters.
                Add($"unreadable: {e.GetType().Name}");
                continue;
            }
            sha.AppendData(BitConverter.GetBytes(bytes.Length));
            sha.AppendData(bytes);
        }
        return Convert.ToHexString(sha.GetHashAndReset());
    }

    /// <summary>Whether the last successful build was of exactly these inputs and its outputs are still the ones it left.</summary>
    public bool IsCurrent(string inputs)
    {
        try { return File.Exists(_stampFile) && File.ReadAllText(_stampFile) == Text(inputs); }
        catch (IOException) { return false; } // unreadable: build, which rewrites it
    }

    /// <summary>Records a successful build of <paramref name="inputs"/> (written whole: temp file, then rename).</summary>
    public void Write(string inputs)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_stampFile)!);
        var temp = $"{_stampFile}.{Environment.ProcessId}.tmp";
        File.WriteAllText(temp, Text(inputs));
        File.Move(temp, _stampFile, overwrite: true);
    }

    /// <summary>Forgets the last build, so the next call builds (used when a build fails).</summary>
    public void Clear() => File.Delete(_stampFile);

    string Text(string inputs)
    {
        var text = new StringBuilder(inputs).Append('\n');
        foreach (var o in _outputs)
        {
            var f = new FileInfo(o);
            text.Append(o).Append(' ').Append(f.Exists ? $"{f.Length} {f.LastWriteTimeUtc.Ticks}" : "missing").Append('\n');
        }
        return text.ToString();
    }

    // Every file below a project folder except build output (bin/, obj/) and hidden folders (.git, .vs).
    static void AddTree(string dir, SortedSet<string> files)
    {
        if (!Directory.Exists(dir)) return;
        foreach (var f in Directory.EnumerateFiles(dir)) files.Add(f);
        foreach (var d in Directory.EnumerateDirectories(dir))
        {
            var name = Path.GetFileName(d);
            if (name is "bin" or "obj" || name.StartsWith('.')) continue;
            AddTree(d, files);
        }
    }

    [GeneratedRegex("<ProjectReference\\s+Include\\s*=\\s*\"([^\"]+)\"")]
    private static partial Regex ProjectReference();
}

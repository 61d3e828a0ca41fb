using System.Security.Cryptography;
using System.Text;

namespace LMHarness.Scripting;

/// <summary>
/// Compiled scripts kept between runs, as upstream dotnet-script keeps them: under
/// <c>&lt;temp&gt;/dotnet-script/&lt;script folder&gt;/</c>, in <c>lmharness-cache/&lt;script file&gt;.dll</c> (upstream's
/// <c>execution-cache/</c> beside it is upstream's; one entry per script, so scripts of one folder do not evict each
/// other). An entry holds its <see cref="ScriptCacheKey"/>, a SHA-256 of its contents and the <see cref="CompiledScript"/>.
/// It is written to a temporary file and renamed into place, so a reader sees a whole entry or the previous one; an
/// entry whose checksum or layout does not hold (a torn write, a full disk, a stray edit) is reported and ignored,
/// never loaded: the caller recompiles and overwrites it.
/// </summary>
public sealed class CompiledScriptCache
{
    static readonly byte[] Magic = "LMHSCRv1"u8.ToArray();

    readonly string _root;

    /// <param name="root">The folder under which entries live, per script folder (upstream: <c>&lt;temp&gt;/dotnet-script</c>).</param>
    public CompiledScriptCache(string root) => _root = root;

    /// <summary>The cache upstream's convention puts in the temp folder (<c>$TMPDIR</c>, else /tmp).</summary>
    public static CompiledScriptCache Default => new(Path.Combine(Path.GetTempPath(), "dotnet-script"));

    /// <summary>Where the entry of the script at <paramref name="scriptPath"/> (a full path) lives.</summary>
    public string EntryPath(string scriptPath) => Path.Combine(
        _root, Path.GetDirectoryName(scriptPath)!.TrimStart(Path.DirectorySeparatorChar), "lmharness-cache", Path.GetFileName(scriptPath) + ".dll");

    /// <summary>
    /// The script compiled under <paramref name="key"/>, or null when there is no entry, it was compiled under another
    /// key, or it is damaged (then <paramref name="damaged"/> says why).
    /// </summary>
    public CompiledScript? TryLoad(string scriptPath, string key, out string? damaged)
    {
        damaged = null;
        var path = EntryPath(scriptPath);
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return null; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { damaged = $"unreadable ({e.Message})"; return null; }

        const int header = 8 + 32;
        if (bytes.Length < header || !bytes.AsSpan(0, 8).SequenceEqual(Magic)) { damaged = "not a cache entry (bad header)"; return null; }
        var payload = bytes.AsSpan(header);
        if (!SHA256.HashData(payload).AsSpan().SequenceEqual(bytes.AsSpan(8, 32))) { damaged = "checksum mismatch (torn or altered)"; return null; }
        try
        {
            using var r = new BinaryReader(new MemoryStream(bytes, header, bytes.Length - header), Encoding.UTF8);
            if (r.ReadString() != key) return null; // compiled from another text, core, host or options: recompile
            var warnings = ReadStrings(r);
            var references = ReadStrings(r);
            var length = r.ReadInt32();
            var image = r.ReadBytes(length);
            if (image.Length != length) throw new EndOfStreamException($"an image of {image.Length} of {length} bytes");
            return new CompiledScript(image, warnings, references);
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or FormatException or ArgumentException)
        {
            damaged = $"bad layout ({e.Message})"; // a checksum that holds over a malformed payload: written by another version
            return null;
        }
    }

    /// <summary>Stores <paramref name="compiled"/> as the entry of the script under <paramref name="key"/>, atomically.</summary>
    public void Store(string scriptPath, string key, CompiledScript compiled)
    {
        var payload = new MemoryStream();
        using (var w = new BinaryWriter(payload, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(key);
            WriteStrings(w, compiled.Warnings);
            WriteStrings(w, compiled.ReferencePaths);
            w.Write(compiled.Image.Length);
            w.Write(compiled.Image);
        }
        var path = EntryPath(scriptPath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // Unique per writer: two runs of one script at once each write their own file; the last rename wins, whole.
        var temp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var f = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                f.Write(Magic);
                f.Write(SHA256.HashData(payload.GetBuffer().AsSpan(0, (int)payload.Length)));
                f.Write(payload.GetBuffer(), 0, (int)payload.Length);
                f.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    static void WriteStrings(BinaryWriter w, IReadOnlyList<string> items)
    {
        w.Write(items.Count);
        foreach (var s in items) w.Write(s);
    }

    static List<string> ReadStrings(BinaryReader r)
    {
        var n = r.ReadInt32();
        if (n < 0 || n > 1 << 20) throw new FormatException($"{n} strings");
        var items = new List<string>(n);
        for (var i = 0; i < n; i++) items.Add(r.ReadString());
        return items;
    }
}

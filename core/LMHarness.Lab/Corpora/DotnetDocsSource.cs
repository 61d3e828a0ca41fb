using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml;
using System.Xml.Linq;

using LMHarness.Data;

namespace LMHarness.Corpora;

/// <summary>
/// The offline default corpus: the English API reference that every .NET SDK installs as IntelliSense XML beside
/// the reference assemblies (<c>&lt;dotnet root&gt;/packs/Microsoft.NETCore.App.Ref/&lt;version&gt;/ref/net*/*.xml</c>),
/// reduced to plain prose: the text of each member's summary and remarks, with cross references replaced by the
/// name they point to, code blocks dropped, whitespace collapsed, paragraphs under 20 chars (fragments) and exact
/// duplicate paragraphs removed. One
/// document per assembly, one line per kept paragraph. The dotnet root is found from the running runtime
/// (its shared/Microsoft.NETCore.App/&lt;version&gt; folder, three levels up), else $DOTNET_ROOT; never a path typed here.
/// </summary>
public sealed partial class DotnetDocsSource : CorpusSource
{
    /// <summary>Finds the docs of the newest targeting pack of the SDK this process runs on.</summary>
    public DotnetDocsSource() : this(FindDocsFolder()) { }

    /// <summary>Reads the *.xml docs of one reference folder (for tests and other SDK layouts).</summary>
    public DotnetDocsSource(string folder)
    {
        var full = System.IO.Path.GetFullPath(folder);
        if (!Directory.Exists(full)) throw new DirectoryNotFoundException($".NET reference docs folder {full} does not exist.");
        Path = full;
    }

    public override string Name => "dotnet_docs";
    public override string Kind => "dotnet_docs";
    public override string Path { get; }
    public override long SizeBytes => XmlFiles().Sum(f => new FileInfo(f).Length);

    IEnumerable<string> XmlFiles() => Directory.GetFiles(Path, "*.xml").Order(StringComparer.Ordinal);

    /// <summary>The dotnet root of the running runtime, else $DOTNET_ROOT; throws when neither has a targeting pack.</summary>
    public static string FindDocsFolder()
    {
        var candidates = new List<string>();
        // .../dotnet/shared/Microsoft.NETCore.App/<version>/ -> .../dotnet
        var runtimeDir = RuntimeEnvironment.GetRuntimeDirectory().TrimEnd('/', '\\');
        var root = Directory.GetParent(runtimeDir)?.Parent?.Parent?.FullName;
        if (root is not null) candidates.Add(root);
        var env = Environment.GetEnvironmentVariable("DOTNET_ROOT");
        if (!string.IsNullOrEmpty(env)) candidates.Add(env);
        foreach (var candidate in candidates)
        {
            var packs = System.IO.Path.Combine(candidate, "packs", "Microsoft.NETCore.App.Ref");
            if (!Directory.Exists(packs)) continue;
            var best = Directory.GetDirectories(packs)
                .Select(d => (Dir: d, Version: Version.TryParse(System.IO.Path.GetFileName(d).Split('-')[0], out var v) ? v : null))
                .Where(x => x.Version is not null)
                .OrderByDescending(x => x.Version)
                .SelectMany<(string Dir, Version? Version), string>(x => Directory.Exists(System.IO.Path.Combine(x.Dir, "ref"))
                    ? Directory.GetDirectories(System.IO.Path.Combine(x.Dir, "ref"), "net*").OrderByDescending(d => d, StringComparer.Ordinal).ToArray()
                    : [])
                .FirstOrDefault(d => Directory.GetFiles(d, "*.xml").Length > 0);
            if (best is not null) return best;
        }
        throw new DirectoryNotFoundException(
            $"No .NET targeting pack docs found under {string.Join(" or ", candidates.Select(c => System.IO.Path.Combine(c, "packs", "Microsoft.NETCore.App.Ref")))}: " +
            "install the .NET SDK (not only the runtime), or set DOTNET_ROOT to its folder, or use another corpus.");
    }

    public override IEnumerable<TextChunk> Read(SourceStats stats)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in XmlFiles())
        {
            var text = new StringBuilder();
            foreach (var paragraph in Paragraphs(file))
                if (paragraph.Length >= 20 && seen.Add(paragraph)) text.Append(paragraph).Append('\n');
            if (text.Length == 0) continue;
            stats.Document("");
            yield return new TextChunk(text.ToString(), true, "");
        }
    }

    /// <summary>The prose paragraphs of one doc file, in order.</summary>
    static IEnumerable<string> Paragraphs(string file)
    {
        var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Ignore, IgnoreComments = true };
        using var reader = XmlReader.Create(file, settings);
        while (reader.ReadToFollowing("member"))
        {
            if (XNode.ReadFrom(reader) is not XElement member) continue;
            foreach (var part in member.Elements().Where(e => e.Name.LocalName is "summary" or "remarks"))
            {
                var sb = new StringBuilder();
                AppendText(part, sb);
                foreach (var p in sb.ToString().Split('\n'))
                {
                    var clean = Spaces().Replace(p, " ").Trim();
                    if (clean.Length > 0) yield return clean;
                }
            }
        }
    }

    static void AppendText(XElement element, StringBuilder sb)
    {
        foreach (var node in element.Nodes())
        {
            if (node is XText t) { sb.Append(t.Value); continue; }
            if (node is not XElement e) continue;
            switch (e.Name.LocalName)
            {
                case "code": break; // code is not prose
                case "see" or "seealso":
                    if (e.Nodes().Any()) AppendText(e, sb);
                    else sb.Append(e.Attribute("langword")?.Value ?? ShortName(e.Attribute("cref")?.Value ?? e.Attribute("href")?.Value ?? ""));
                    break;
                case "paramref" or "typeparamref": sb.Append(e.Attribute("name")?.Value); break;
                case "xref": sb.Append(ShortName(e.Attribute("href")?.Value ?? "")); break;
                case "para" or "p" or "item" or "listheader" or "br" or "li": sb.Append('\n'); AppendText(e, sb); sb.Append('\n'); break;
                default: AppendText(e, sb); sb.Append(e.Name.LocalName is "term" ? ": " : ""); break;
            }
        }
    }

    /// <summary>"M:System.String.Concat(System.Object)" -> "Concat"; "T:System.Collections.Generic.List`1" -> "List".</summary>
    static string ShortName(string cref)
    {
        var s = cref.Contains(':') ? cref[(cref.IndexOf(':') + 1)..] : cref;
        int paren = s.IndexOf('(');
        if (paren >= 0) s = s[..paren];
        int tick = s.IndexOf('`');
        if (tick >= 0) s = s[..tick];
        s = s.Replace("#ctor", "constructor");
        int dot = s.LastIndexOf('.');
        return dot >= 0 ? s[(dot + 1)..] : s;
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();
}

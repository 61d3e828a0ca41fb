using System.Security.Cryptography;
using System.Text;
using LMHarness.Data;
using LMHarness.IO;
using LMHarness.Terminal;

namespace LMHarness.Corpora;

/// <summary>
/// Corpora by name, as configs and command lines give them, and token files prepared once into the cache.
/// A spec is one of: <c>default</c> or <c>dotnet_docs</c> (the offline default, <see cref="DotnetDocsSource"/>),
/// <c>tinyshakespeare</c>, a directory, <c>file.jsonl[:field]</c> and <c>file.parquet[:column]</c> (field/column
/// "text" when omitted), or any other file as plain text.
/// </summary>
public static class Corpus
{
    public static CorpusSource Source(string spec)
    {
        switch (spec.ToLowerInvariant())
        {
            case "default" or "dotnet_docs": return new DotnetDocsSource();
            case "tinyshakespeare" or "shakespeare": return TinyShakespeare.Source();
        }
        var (path, field) = SplitField(spec);
        if (path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".ndjson", StringComparison.OrdinalIgnoreCase))
            return new JsonlSource(path, field ?? "text");
        if (path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase))
            return new ParquetSource(path, field ?? "text");
        if (Directory.Exists(spec)) return new DirectorySource(spec);
        if (File.Exists(spec)) return new TextFileSource(spec);
        throw new FileNotFoundException(
            $"Corpus '{spec}' is neither a known name (default, dotnet_docs, tinyshakespeare) nor an existing file or directory: check the path.", spec);
    }

    static (string Path, string? Field) SplitField(string spec)
    {
        foreach (var ext in new[] { ".jsonl:", ".ndjson:", ".parquet:" })
        {
            int i = spec.LastIndexOf(ext, StringComparison.OrdinalIgnoreCase);
            if (i >= 0) return (spec[..(i + ext.Length - 1)], spec[(i + ext.Length)..]);
        }
        return (spec, null);
    }

    /// <summary>The token file of corpus <paramref name="spec"/> under <paramref name="tokenizer"/> (10% val), prepared on first use.</summary>
    public static string Prepared(string spec, string tokenizer) => Prepared(spec, tokenizer, new PrepareOptions());

    /// <summary>
    /// The cached token file for this corpus, tokenizer and split, prepared when absent or invalid. The cache key
    /// hashes the source's path, size and modification time, so an edited corpus is prepared again.
    /// </summary>
    public static string Prepared(string spec, string tokenizer, PrepareOptions options)
    {
        var source = Source(spec);
        var stamp = File.Exists(source.Path)
            ? $"{new FileInfo(source.Path).Length}:{File.GetLastWriteTimeUtc(source.Path).Ticks}"
            : $"{source.SizeBytes}:{Directory.GetLastWriteTimeUtc(source.Path).Ticks}";
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{source.Kind}|{source.Path}|{stamp}|{tokenizer}|{options.ValFraction}")))[..12].ToLowerInvariant();
        var slug = new string(source.Name.Select(c => char.IsAsciiLetterOrDigit(c) ? char.ToLowerInvariant(c) : '_').ToArray());
        var path = Path.Combine(CacheFolder.Root, "data", "tokens", $"{slug}-{tokenizer.ToLowerInvariant()}-{key}.bin");
        if (File.Exists(path) && File.Exists(TokenFileInfo.SidecarPath(path)))
        {
            try
            {
                using var cached = TokenFile.Open(path);
                if (cached.Info.Sha256 is not null) return path;
                Console.Error.WriteLine($"note: cached token file {path} predates token-file checksums; preparing it again to get one.");
            }
            catch (InvalidDataException e) { Console.Error.WriteLine($"warning: cached {e.Message} Preparing it again."); }
        }
        // A terminal gets a live bar unless the caller chose its own progress (or none).
        if (options.Progress is PrepareProgressLines && PrepareProgressBar.Interactive)
            PrepareProgressBar.Run(bar => Preparer.Prepare(source, tokenizer, path, options with { Progress = bar }));
        else
            Preparer.Prepare(source, tokenizer, path, options);
        return path;
    }
}

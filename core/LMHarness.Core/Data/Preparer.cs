using LMHarness.Tokenizers;

namespace LMHarness.Data;

/// <summary>
/// Prepare = tokenize a corpus once into a token file (flat uint16/uint32 ids + JSON sidecar) that training
/// memory-maps. Streams: sources are read in waves of chunks (about ChunkBytes x 2 x threads of text), each wave
/// is tokenized in parallel across cores and written in source order, so memory stays bounded by a wave whatever
/// the corpus size, and the ids equal those of a one-thread pass. Documents are separated by the tokenizer's
/// end-of-text id. The file appears under its final name only when complete (<see cref="TokenFileWriter"/>).
/// </summary>
public static class Preparer
{
    /// <summary>Prepares one source with the tokenizer named (gpt2, cl100k_base, o200k_base, bytes, char).</summary>
    public static TokenFileInfo Prepare(CorpusSource source, string tokenizer, string outPath, PrepareOptions options) =>
        Prepare([new MixPart(source)], tokenizer, outPath, options);

    /// <summary>Prepares a mix with the tokenizer named; "char" first scans the corpus for its char table.</summary>
    public static TokenFileInfo Prepare(IReadOnlyList<MixPart> parts, string tokenizer, string outPath, PrepareOptions options) =>
        Prepare(parts, tokenizer.Equals("char", StringComparison.OrdinalIgnoreCase) ? CharTokenizerFor(parts) : LMHarness.Tokenizers.TokenizerFactory.ByName(tokenizer), outPath, options);

    public static TokenFileInfo Prepare(CorpusSource source, ITokenizer tokenizer, string outPath, PrepareOptions options) =>
        Prepare([new MixPart(source)], tokenizer, outPath, options);

    /// <summary>
    /// The char tokenizer of a corpus: sorted distinct chars of every source, plus NUL as end of text when the
    /// corpus has more than one document (one pass over the text, bounded memory).
    /// </summary>
    public static CharTokenizer CharTokenizerFor(IReadOnlyList<MixPart> parts)
    {
        var seen = new bool[char.MaxValue + 1];
        long documents = 0;
        var stats = new SourceStats { Quiet = true };
        foreach (var part in parts)
            foreach (var chunk in part.Source.Read(stats))
            {
                if (chunk.StartsDocument) documents++;
                foreach (char c in chunk.Text) seen[c] = true;
            }
        if (documents > 1) seen[CharTokenizer.EndOfTextChar] = true;
        var table = new string(Enumerable.Range(0, seen.Length).Where(c => seen[c]).Select(c => (char)c).ToArray());
        var paths = string.Join(", ", parts.Select(p => p.Source.Path));
        if (table.Length == 0 && stats.SkippedBinaryFiles > 0) // e.g. --data /usr/bin/ls: the reason is the file, not emptiness
            throw new InvalidDataException($"The corpus {paths} has no text: " +
                                           $"{(stats.SkippedBinaryFiles == 1 ? "a binary file" : $"{stats.SkippedBinaryFiles} binary files")} (NUL bytes in the first 8 KB) skipped. " +
                                           "Point it at text files, or pass a token file prepared by prepare.csx (.bin).");
        if (table.Length == 0)
            throw new InvalidDataException($"The corpus is empty ({paths}): no text to build a char table from.");
        return new CharTokenizer(table);
    }

    public static TokenFileInfo Prepare(IReadOnlyList<MixPart> parts, ITokenizer tokenizer, string outPath, PrepareOptions options)
    {
        if (parts.Count == 0) throw new ArgumentException("Nothing to prepare: give at least one source.", nameof(parts));
        if (options.ValFraction is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(options), $"val fraction must be in [0, 1) (got {options.ValFraction}).");
        foreach (var p in parts)
            if (p.TokenBudget < 0) throw new ArgumentOutOfRangeException(nameof(parts), $"token budget of {p.Source.Path} must be >= 0 (got {p.TokenBudget}).");
        var progress = options.Progress ?? NoProgress.Instance;
        using var writer = new TokenFileWriter(outPath, tokenizer.Identity);
        long documents = 0;
        var infos = new List<SourceInfo>();
        foreach (var part in parts)
        {
            var (info, docs) = WritePart(part, tokenizer, writer, options, progress);
            infos.Add(info);
            documents += docs;
        }
        return writer.Complete(options.ValFraction, documents, infos);
    }

    sealed class NoProgress : IPrepareProgress
    {
        public static readonly NoProgress Instance = new();
        public void Begin(string label, double max) { }
        public void Report(double value, long tokens) { }
        public void End() { }
    }

    static (SourceInfo Info, long Documents) WritePart(MixPart part, ITokenizer tokenizer, TokenFileWriter writer, PrepareOptions options, IPrepareProgress progress)
    {
        var source = part.Source;
        long budget = part.TokenBudget;
        var stats = new SourceStats();
        long tokens = 0, documents = 0, charsRead = 0, passTokens = 0;
        int passes = 0;
        bool full = false;
        progress.Begin(source.Name, budget > 0 ? budget : source.SizeBytes);
        int threads = Math.Max(1, options.Threads);
        long waveChars = (long)CorpusSource.DefaultChunkBytes * 2 * threads;
        while (!full)
        {
            passes++;
            passTokens = 0;
            var passStats = passes == 1 ? stats : new SourceStats { Quiet = true };
            foreach (var wave in Waves(source.Read(passStats), waveChars))
            {
                var ids = new int[wave.Count][];
                Parallel.For(0, wave.Count, new ParallelOptions { MaxDegreeOfParallelism = threads }, i => ids[i] = tokenizer.Encode(wave[i].Text));
                for (int i = 0; i < wave.Count && !full; i++)
                {
                    if (wave[i].StartsDocument)
                    {
                        documents++;
                        if (writer.Count > 0)
                        {
                            if (tokenizer.EndOfText < 0)
                                throw new InvalidDataException(
                                    $"{tokenizer.Identity.Describe()} has no end-of-text id to separate the documents of {source.Path}: build the char table from the whole corpus (Preparer.CharTokenizerFor) so it reserves one.");
                            full = Take([tokenizer.EndOfText]);
                        }
                    }
                    if (!full) full = Take(ids[i]);
                    charsRead += wave[i].Text.Length;
                }
                progress.Report(budget > 0 ? tokens : charsRead, writer.Count);
                if (full) break;
            }
            if (budget == 0) break;
            if (passTokens == 0) break; // empty source: reported below
        }
        progress.End();
        if (tokens == 0)
            throw new InvalidDataException(
                $"The corpus source {source.Path} ({source.Kind}) is empty: it produced no text" +
                (stats.SkippedBinaryFiles > 0 ? $" ({stats.SkippedBinaryFiles} binary file(s) skipped)" : "") + ". Point it at files that contain text.");
        var info = new SourceInfo(source.Name, source.Kind, source.Path, documents, tokens, passes,
            stats.SkippedBinaryFiles, stats.InvalidUtf8Files, stats.ReplacedBytes, stats.Folders.Count > 0 ? new Dictionary<string, long>(stats.Folders) : null)
        {
            Warnings = [.. stats.Warnings],
        };
        return (info, documents);

        // Writes ids up to the budget; true when the budget is reached.
        bool Take(ReadOnlySpan<int> chunk)
        {
            int take = budget > 0 ? (int)Math.Min(chunk.Length, budget - tokens) : chunk.Length;
            writer.Write(chunk[..take]);
            tokens += take;
            passTokens += take;
            return budget > 0 && tokens >= budget;
        }
    }

    /// <summary>Groups chunks into waves of at least <paramref name="waveChars"/> chars (or 65,536 chunks).</summary>
    static IEnumerable<List<TextChunk>> Waves(IEnumerable<TextChunk> chunks, long waveChars)
    {
        var wave = new List<TextChunk>();
        long chars = 0;
        foreach (var chunk in chunks)
        {
            wave.Add(chunk);
            chars += chunk.Text.Length;
            if (chars >= waveChars || wave.Count >= 65_536)
            {
                yield return wave;
                wave = [];
                chars = 0;
            }
        }
        if (wave.Count > 0) yield return wave;
    }
}

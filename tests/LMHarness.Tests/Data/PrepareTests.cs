using System.Text;
using LMHarness.Data;
using LMHarness.Tokenizers;
using Parquet;
using Parquet.Schema;
using LMHarness.Corpora;

namespace LMHarness.Tests.Data;

public class PrepareTests
{
    static readonly PrepareOptions Quiet = new() { Progress = null, ValFraction = 0.0 };

    static string DecodeAll(string path)
    {
        using var file = TokenFile.Open(path);
        return TokenizerFactory.Create(file.Tokenizer).Decode(file.Read(0, (int)file.Count));
    }

    [Fact]
    public void TinyShakespeareCharMatchesNanoGptShakespeareChar()
    {
        using var dir = new TempDir();
        var info = Preparer.Prepare(new TextFileSource(DataFixtures.TinyShakespearePath()), "char", dir.File("shakespeare_char.bin"), new PrepareOptions { Progress = null });
        // nanoGPT data/shakespeare_char/prepare.py: vocab 65, train 1,003,854 tokens, val 111,540 tokens.
        info.Tokenizer.VocabSize.Should().Be(65);
        info.TrainTokens.Should().Be(1_003_854);
        info.ValTokens.Should().Be(111_540);
        info.Dtype.Should().Be("uint16");
        info.Documents.Should().Be(1);
        DecodeAll(dir.File("shakespeare_char.bin")).Should().Be(DataFixtures.TinyShakespeare);
    }

    [Fact]
    public void Gpt2PrepareIsChunkAndThreadInvariant()
    {
        using var dir = new TempDir();
        var tok = TokenizerFactory.ByName("gpt2");
        // 64 KB chunks over 2 threads: 17 chunks tokenized out of order, written in order.
        var info = Preparer.Prepare(new TextFileSource(DataFixtures.TinyShakespearePath(), 1 << 16), tok, dir.File("s.bin"), Quiet with { Threads = 2 });
        info.TokenCount.Should().Be(338_025);
        using var file = TokenFile.Open(dir.File("s.bin"));
        file.Read(0, (int)file.Count).Should().Equal(tok.Encode(DataFixtures.TinyShakespeare));
    }

    [Fact]
    public void DirectoryTreeSkipsHiddenAndBinaryKeepsFoldersAndCountsBadUtf8()
    {
        using var dir = new TempDir();
        var root = Directory.CreateDirectory(dir.File("docs")).FullName;
        Directory.CreateDirectory(Path.Combine(root, "b", "c"));
        Directory.CreateDirectory(Path.Combine(root, ".git"));
        File.WriteAllText(Path.Combine(root, "a.txt"), "alpha");
        File.WriteAllText(Path.Combine(root, "b", "x.md"), "beta");
        File.WriteAllText(Path.Combine(root, "b", "c", "y.txt"), "gamma");
        File.WriteAllText(Path.Combine(root, ".hidden.txt"), "HIDDEN");
        File.WriteAllText(Path.Combine(root, ".git", "config"), "HIDDEN");
        File.WriteAllBytes(Path.Combine(root, "b", "image.png"), [0x89, 0x50, 0x4E, 0x47, 0, 0, 0, 13]);
        File.WriteAllBytes(Path.Combine(root, "b", "latin1.txt"), [(byte)'c', (byte)'a', (byte)'f', 0xE9, (byte)'!']);

        var info = Preparer.Prepare(new DirectorySource(root), new ByteTokenizer(), dir.File("d.bin"), Quiet);
        // Ordinal path order, NUL (the bytes end-of-text) between documents; 0xE9 alone is invalid UTF-8 -> U+FFFD.
        DecodeAll(dir.File("d.bin")).Should().Be("alpha\0caf\uFFFD!\0beta\0gamma");
        info.Documents.Should().Be(4);
        var src = info.Sources.Single();
        src.Kind.Should().Be("directory");
        src.SkippedBinaryFiles.Should().Be(1);
        src.InvalidUtf8Files.Should().Be(1);
        src.ReplacedBytes.Should().Be(1);
        src.Folders.Should().BeEquivalentTo(new Dictionary<string, long> { ["."] = 1, ["b"] = 2, ["b/c"] = 1 });
        src.Warnings.Should().Contain(w => w.Contains("image.png") && w.Contains("binary"))
            .And.Contain(w => w.Contains("latin1.txt") && w.Contains("1 invalid"));
        // The warnings survive in the sidecar.
        using var file = TokenFile.Open(dir.File("d.bin"));
        file.Info.Sources[0].Warnings.Should().HaveCount(2);
    }

    [Fact]
    public void JsonlTakesTheNamedFieldAndSkipsRecordsWithout()
    {
        using var dir = new TempDir();
        var path = dir.File("c.jsonl");
        File.WriteAllText(path, "{\"text\":\"first doc\",\"id\":1}\n\n{\"id\":2}\n{\"text\":\"second\\ndoc \\u00e9\"}\n{\"text\":null}\n");
        var info = Preparer.Prepare(new JsonlSource(path, "text"), new ByteTokenizer(), dir.File("j.bin"), Quiet);
        DecodeAll(dir.File("j.bin")).Should().Be("first doc\0second\ndoc é");
        info.Documents.Should().Be(2);
        info.Sources[0].Warnings.Should().ContainSingle().Which.Should().Contain("c.jsonl").And.Contain("2 line(s)").And.Contain("\"text\"");
    }

    [Fact]
    public void JsonlInvalidUtf8IsReplacedAndCounted()
    {
        using var dir = new TempDir();
        var path = dir.File("latin1.jsonl");
        File.WriteAllBytes(path, [.. Encoding.UTF8.GetBytes("{\"text\":\"caf"), 0xE9, .. Encoding.UTF8.GetBytes("\"}\n")]);
        var info = Preparer.Prepare(new JsonlSource(path, "text"), new ByteTokenizer(), dir.File("j.bin"), Quiet);
        DecodeAll(dir.File("j.bin")).Should().Be("caf\uFFFD");
        info.Sources[0].InvalidUtf8Files.Should().Be(1);
        info.Sources[0].ReplacedBytes.Should().Be(1);
        info.Sources[0].Warnings.Should().ContainSingle().Which.Should().Contain("latin1.jsonl");
    }

    [Fact]
    public void JsonlBadLineIsAnErrorNamingFileAndLine()
    {
        using var dir = new TempDir();
        var path = dir.File("bad.jsonl");
        File.WriteAllText(path, "{\"text\":\"ok\"}\n{\"text\": oops}\n");
        var act = () => Preparer.Prepare(new JsonlSource(path, "text"), new ByteTokenizer(), dir.File("j.bin"), Quiet);
        act.Should().Throw<InvalidDataException>().WithMessage("*bad.jsonl line 2*not valid JSON*");
        Directory.GetFiles(dir.Path).Should().Equal(path);
    }

    [Fact]
    public void JsonlLineLongerThanTheBoundIsRefusedNamingFileAndLineInsteadOfReadWhole()
    {
        using var dir = new TempDir();
        var path = dir.File("long.jsonl");
        File.WriteAllText(path, "{\"text\":\"ok\"}\r\n{\"text\":\"" + new string('x', 5000) + "\"}\n{\"text\":\"tail\"}");
        var act = () => Preparer.Prepare(new JsonlSource(path, "text", maxLineChars: 4096), new ByteTokenizer(), dir.File("j.bin"), Quiet);
        act.Should().Throw<InvalidDataException>().WithMessage($"{path} line 2 is longer than 4,096 characters, so it is not read*split it*");
        Preparer.Prepare(new JsonlSource(path, "text", maxLineChars: 8192), new ByteTokenizer(), dir.File("k.bin"), Quiet).Documents.Should().Be(3);
    }

    [Theory]
    [InlineData("a\nb\r\nc\rd\n\ne", 3)]
    [InlineData("\r\n\r\n\n\r", 1)]
    [InlineData("one line, no end", 2)]
    [InlineData("ends\r", 1)]
    [InlineData("", 4)]
    public void BoundedLinesSplitAsReadLineDoesWhateverTheBufferBoundaries(string text, int repeat)
    {
        // Long enough to cross the 64 K-character buffer, so "\r\n" lands across a boundary somewhere.
        var big = string.Concat(Enumerable.Repeat(text + new string('y', 65535) + "\r\n", repeat)) + text;
        foreach (var t in new[] { text, big })
        {
            var expected = new List<string>();
            using (var r = new StringReader(t)) for (string? l; (l = r.ReadLine()) is not null;) expected.Add(l);
            BoundedLines.Read(new StringReader(t), int.MaxValue, n => new InvalidDataException()).Should().Equal(expected);
        }
    }

    static async Task WriteParquet(string path, string column, IReadOnlyList<string[]> rowGroups)
    {
        var text = new DataField<string>(column);
        var schema = new ParquetSchema(new DataField<int>("id"), text);
        await using var stream = File.Create(path);
        await using var writer = await ParquetWriter.CreateAsync(schema, stream);
        int id = 0;
        foreach (var rows in rowGroups)
        {
            using var rg = writer.CreateRowGroup();
            await rg.WriteAsync<int>((DataField<int>)schema.DataFields[0], rows.Select(_ => id++).ToArray().AsMemory());
            await rg.WriteAsync(text, rows);
        }
    }

    [Fact]
    public async Task ParquetReadsTheNamedColumnAcrossRowGroups()
    {
        using var dir = new TempDir();
        var path = dir.File("train-00000.parquet");
        await WriteParquet(path, "content", [["one", "two"], ["", "three"]]);
        var info = Preparer.Prepare(new ParquetSource(path, "content"), new ByteTokenizer(), dir.File("p.bin"), Quiet);
        DecodeAll(dir.File("p.bin")).Should().Be("one\0two\0three");
        info.Documents.Should().Be(3);
        var act = () => Preparer.Prepare(new ParquetSource(path, "text"), new ByteTokenizer(), dir.File("q.bin"), Quiet);
        act.Should().Throw<InvalidDataException>().WithMessage("*train-00000.parquet has no column \"text\"*id, content*");
        var notText = () => Preparer.Prepare(new ParquetSource(path, "id"), new ByteTokenizer(), dir.File("q.bin"), Quiet);
        notText.Should().Throw<InvalidDataException>().WithMessage("*\"id\"*not text*");
    }

    [Fact]
    public async Task ParquetRowGroupLargerThanTheMemoryLimitIsRefusedWithTheFigureBeforeItsRowsAreAllocated()
    {
        using var dir = new TempDir();
        var path = dir.File("big-rows.parquet");
        await WriteParquet(path, "text", [Enumerable.Range(0, 4000).Select(i => $"document {i}").ToArray()]);
        using (new LMHarness.Tests.Memory.StatedMemoryLimit(0.1))
        {
            var act = () => Preparer.Prepare(new ParquetSource(path, "text"), new ByteTokenizer(), dir.File("p.bin"), Quiet);
            act.Should().Throw<InsufficientMemoryException>()
                .WithMessage($"Reading row group 0 of {path} needs * KB (4,000 rows and * KB of uncompressed pages in column \"text\") but this process may use only 102 KB more (LMH_MEMORY_LIMIT_MB=0.1): rewrite the file with smaller row groups*");
        }
        Preparer.Prepare(new ParquetSource(path, "text"), new ByteTokenizer(), dir.File("q.bin"), Quiet).Documents.Should().Be(4000);
    }

    [Fact]
    public void MixHonoursBudgetsRepeatingShortSources()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("small.txt"), "abc");           // 3 bytes: must repeat to fill 10
        File.WriteAllText(dir.File("big.txt"), new string('x', 100)); // cut to 7
        var parts = new List<MixPart>
        {
            new(new TextFileSource(dir.File("small.txt")), 10),
            new(new TextFileSource(dir.File("big.txt")), 7),
        };
        var info = Preparer.Prepare(parts, new ByteTokenizer(), dir.File("m.bin"), Quiet);
        info.TokenCount.Should().Be(17);
        info.Sources.Select(s => s.Tokens).Should().Equal(10, 7);
        info.Sources[0].Passes.Should().Be(3);
        info.Sources[1].Passes.Should().Be(1);
        // budgets count the end-of-text separators too
        DecodeAll(dir.File("m.bin")).Should().Be("abc\0abc\0ab" + "\0xxxxxx");
    }

    [Fact]
    public void MixOfAllSourcesWithCharTokenizerUsesNulSeparator()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("a.txt"), "hello");
        File.WriteAllText(dir.File("b.jsonl"), "{\"t\":\"world\"}\n");
        var parts = new List<MixPart> { new(new TextFileSource(dir.File("a.txt"))), new(new JsonlSource(dir.File("b.jsonl"), "t")) };
        var info = Preparer.Prepare(parts, "char", dir.File("c.bin"), Quiet);
        info.Tokenizer.CharTable.Should().Be("\0dehlorw");
        DecodeAll(dir.File("c.bin")).Should().Be("hello\0world");
    }

    [Fact]
    public void SplitTakesTheLastTokensAsValidation()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("t.txt"), new string('a', 1000));
        var info = Preparer.Prepare(new TextFileSource(dir.File("t.txt")), new ByteTokenizer(), dir.File("s.bin"), Quiet with { ValFraction = 0.25 });
        info.TrainTokens.Should().Be(750);
        info.ValTokens.Should().Be(250);
        var bad = () => Preparer.Prepare(new TextFileSource(dir.File("t.txt")), new ByteTokenizer(), dir.File("s2.bin"), Quiet with { ValFraction = 1.0 });
        bad.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*val fraction*");
    }

    [Fact]
    public void MissingPathsAreClearErrors()
    {
        using var dir = new TempDir();
        FluentActions.Invoking(() => new TextFileSource(dir.File("nope.txt"))).Should().Throw<FileNotFoundException>().WithMessage("*nope.txt does not exist*");
        FluentActions.Invoking(() => new DirectorySource(dir.File("nodir"))).Should().Throw<DirectoryNotFoundException>().WithMessage("*nodir does not exist*");
        FluentActions.Invoking(() => new JsonlSource(dir.File("x.jsonl"), "text")).Should().Throw<FileNotFoundException>().WithMessage("*x.jsonl*");
        FluentActions.Invoking(() => new ParquetSource(dir.File("x.parquet"), "text")).Should().Throw<FileNotFoundException>().WithMessage("*x.parquet*");
        FluentActions.Invoking(() => new TextFileSource(dir.Path)).Should().Throw<FileNotFoundException>().WithMessage("*is a directory*");
    }

    [Fact]
    public void EmptyCorpusIsRefusedAndNothingIsWritten()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("empty.txt"), "");
        var act = () => Preparer.Prepare(new TextFileSource(dir.File("empty.txt")), "gpt2", dir.File("e.bin"), Quiet);
        act.Should().Throw<InvalidDataException>().WithMessage("*empty.txt*empty*");
        var bins = Directory.CreateDirectory(dir.File("bins")).FullName;
        File.WriteAllBytes(Path.Combine(bins, "a.bin"), [1, 0, 2]);
        var act2 = () => Preparer.Prepare(new DirectorySource(bins), new ByteTokenizer(), dir.File("e.bin"), Quiet);
        act2.Should().Throw<InvalidDataException>().WithMessage("*bins*empty*1 binary file(s) skipped*");
        var act3 = () => Preparer.Prepare(new TextFileSource(dir.File("empty.txt")), "char", dir.File("e.bin"), Quiet);
        act3.Should().Throw<InvalidDataException>().WithMessage("*empty*");
        Directory.GetFiles(dir.Path).Select(Path.GetFileName).Should().BeEquivalentTo(["empty.txt"], "no token file, sidecar or temp file is left");
    }

    [Fact]
    public void TinyShakespeareFromEnvVarOrClearError()
    {
        var old = Environment.GetEnvironmentVariable(TinyShakespeare.EnvVar);
        try
        {
            Environment.SetEnvironmentVariable(TinyShakespeare.EnvVar, DataFixtures.TinyShakespearePath());
            TinyShakespeare.Locate().Should().Be(Path.GetFullPath(DataFixtures.TinyShakespearePath()));
            Environment.SetEnvironmentVariable(TinyShakespeare.EnvVar, null);
            // Without the variable, the copy in shared/data beside the checkout is found (never a download in tests).
            File.ReadAllText(TinyShakespeare.Locate()).Length.Should().Be((int)TinyShakespeare.Length);
            Environment.SetEnvironmentVariable(TinyShakespeare.EnvVar, "/no/such/tinyshakespeare.txt");
            FluentActions.Invoking(TinyShakespeare.Locate).Should().Throw<FileNotFoundException>().WithMessage("*LMHARNESS_TINYSHAKESPEARE*/no/such/tinyshakespeare.txt*");
        }
        finally { Environment.SetEnvironmentVariable(TinyShakespeare.EnvVar, old); }
    }

    [Fact]
    public void DotnetDocsReduceToDedupedProse()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("A.xml"), """
            <?xml version="1.0" encoding="utf-8"?>
            <doc><assembly><name>A</name></assembly><members>
              <member name="T:A.Thing">
                <summary>Represents a <see cref="T:System.Collections.Generic.List`1" /> of things that is <see langword="null" /> when empty.</summary>
                <remarks><para>First   remark paragraph.</para><code>var x = 1; // not prose</code><para>Uses <paramref name="count" /> items of the list.</para><para>Too short.</para></remarks>
                <param name="count">Not kept: parameters are not summaries.</param>
              </member>
              <member name="M:A.Thing.Do">
                <summary>Represents a <see cref="T:System.Collections.Generic.List`1" /> of things that is <see langword="null" /> when empty.</summary>
              </member>
            </members></doc>
            """);
        var info = Preparer.Prepare(new DotnetDocsSource(dir.Path), new ByteTokenizer(), dir.File("d.bin"), Quiet);
        DecodeAll(dir.File("d.bin")).Should().Be("Represents a List of things that is null when empty.\nFirst remark paragraph.\nUses count items of the list.\n");
        info.Sources[0].Kind.Should().Be("dotnet_docs");
    }

    [Fact]
    public void DotnetDocsAreFoundFromTheRunningSdk()
    {
        var folder = DotnetDocsSource.FindDocsFolder();
        folder.Replace('\\', '/').Should().Contain("/packs/Microsoft.NETCore.App.Ref/");
        Directory.GetFiles(folder, "*.xml").Should().Contain(f => Path.GetFileName(f) == "System.Runtime.xml");
    }
}

public class CorporaTests
{
    [Fact]
    public void SpecsNameSourcesAndPreparedFilesAreCachedAndReused()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("c.jsonl"), "{\"body\":\"some text here\"}\n{\"body\":\"more\"}\n");
        File.WriteAllText(dir.File("plain.txt"), "plain text");
        Corpus.Source(dir.File("c.jsonl") + ":body").Should().BeOfType<JsonlSource>().Which.Field.Should().Be("body");
        Corpus.Source(dir.File("c.jsonl")).Should().BeOfType<JsonlSource>().Which.Field.Should().Be("text");
        Corpus.Source(dir.File("plain.txt")).Should().BeOfType<TextFileSource>();
        Corpus.Source(dir.Path).Should().BeOfType<DirectorySource>();
        Corpus.Source("default").Should().BeOfType<DotnetDocsSource>();
        FluentActions.Invoking(() => Corpus.Source(dir.File("missing"))).Should().Throw<FileNotFoundException>().WithMessage("*missing*known name*");

        var old = Environment.GetEnvironmentVariable("LMHARNESS_CACHE");
        try
        {
            Environment.SetEnvironmentVariable("LMHARNESS_CACHE", dir.File("cache"));
            var opts = new PrepareOptions { Progress = null };
            var path = Corpus.Prepared(dir.File("c.jsonl") + ":body", "bytes", opts);
            path.Should().StartWith(dir.File("cache"));
            var written = File.GetLastWriteTimeUtc(path);
            Corpus.Prepared(dir.File("c.jsonl") + ":body", "bytes", opts).Should().Be(path);
            File.GetLastWriteTimeUtc(path).Should().Be(written, "a valid cached file is reused, not rewritten");
            using (var f = new FileStream(path, FileMode.Open)) f.SetLength(3); // corrupt it
            Corpus.Prepared(dir.File("c.jsonl") + ":body", "bytes", opts).Should().Be(path);
            using var file = TokenFile.Open(path);
            file.Count.Should().Be("some text here".Length + 1 + "more".Length);
        }
        finally { Environment.SetEnvironmentVariable("LMHARNESS_CACHE", old); }
    }
}

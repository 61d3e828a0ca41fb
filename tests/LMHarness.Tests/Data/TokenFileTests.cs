using System.Buffers.Binary;
using LMHarness.Data;
using LMHarness.Tokenizers;

namespace LMHarness.Tests.Data;

public class TokenFileTests
{
    static readonly TokenizerIdentity Char10 = new CharTokenizer("0123456789").Identity;

    [Fact]
    public void WritesUint16WithSidecarAndReadsBackTheSameIds()
    {
        using var dir = new TempDir();
        var ids = Enumerable.Range(0, 1000).Select(i => i % 10).ToArray();
        var path = DataFixtures.WriteTokenFile(dir.Path, "t.bin", Char10, ids, 0.1);
        new FileInfo(path).Length.Should().Be(2000);
        using var file = TokenFile.Open(path);
        file.Info.Dtype.Should().Be("uint16");
        file.Count.Should().Be(1000);
        file.TrainTokens.Should().Be(900);
        file.ValTokens.Should().Be(100);
        file.Tokenizer.Should().Be(Char10);
        file.Read(0, 1000).Should().Equal(ids);
        file[999].Should().Be(9);
        Directory.GetFiles(dir.Path).Select(Path.GetFileName).Should().BeEquivalentTo(["t.bin", "t.bin.json"], "no temp file is left behind");
    }

    [Fact]
    public void LargeVocabIsStoredAsUint32()
    {
        using var dir = new TempDir();
        var ids = new[] { 0, 70000, 100276, 5 };
        var path = DataFixtures.WriteTokenFile(dir.Path, "w.bin", new TokenizerIdentity(TokenizerKind.Cl100kBase, 100277), ids, 0);
        new FileInfo(path).Length.Should().Be(16);
        using var file = TokenFile.Open(path);
        file.Info.Dtype.Should().Be("uint32");
        file.Read(0, 4).Should().Equal(ids);
        file.ValTokens.Should().Be(0);
    }

    [Fact]
    public void WriterRefusesIdOutsideVocabAndLeavesNothing()
    {
        using var dir = new TempDir();
        var writer = new TokenFileWriter(dir.File("x.bin"), Char10);
        var act = () => writer.Write(new[] { 1, 2, 10 });
        act.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*id 10*x.bin*");
        writer.Dispose();
        Directory.GetFiles(dir.Path).Should().BeEmpty();
    }

    [Fact]
    public void EmptyCorpusIsRefusedAndLeavesNothing()
    {
        using var dir = new TempDir();
        var writer = new TokenFileWriter(dir.File("e.bin"), Char10);
        var act = () => writer.Complete(0.1, 0, []);
        act.Should().Throw<InvalidDataException>().WithMessage("*e.bin*empty*");
        Directory.GetFiles(dir.Path).Should().BeEmpty();
    }

    [Fact]
    public void TruncatedFileIsRefusedNamingIt()
    {
        using var dir = new TempDir();
        var path = DataFixtures.WriteTokenFile(dir.Path, "t.bin", Char10, new int[100], 0.1);
        using (var fs = new FileStream(path, FileMode.Open)) fs.SetLength(150);
        var act = () => TokenFile.Open(path);
        act.Should().Throw<InvalidDataException>().WithMessage($"*{path}*truncated*150 bytes*100 uint16*");
    }

    [Fact]
    public void SidecarDisagreeingIsRefused()
    {
        using var dir = new TempDir();
        var path = DataFixtures.WriteTokenFile(dir.Path, "t.bin", Char10, new int[100], 0.1);
        var sidecar = path + ".json";
        var info = TokenFileInfo.FromJson(File.ReadAllText(sidecar), "s");
        File.WriteAllText(sidecar, (info with { TokenCount = 80, TrainTokens = 72, ValTokens = 8 }).ToJson());
        FluentActions.Invoking(() => TokenFile.Open(path)).Should().Throw<InvalidDataException>().WithMessage("*200 bytes*80 uint16*another file*");
        File.WriteAllText(sidecar, (info with { Dtype = "uint32" }).ToJson());
        FluentActions.Invoking(() => TokenFile.Open(path)).Should().Throw<InvalidDataException>().WithMessage("*dtype 'uint32'*'uint16'*");
        File.WriteAllText(sidecar, (info with { TrainTokens = 95 }).ToJson());
        FluentActions.Invoking(() => TokenFile.Open(path)).Should().Throw<InvalidDataException>().WithMessage("*inconsistent counts*");
        File.WriteAllText(sidecar, "{ not json");
        FluentActions.Invoking(() => TokenFile.Open(path)).Should().Throw<InvalidDataException>().WithMessage($"*{sidecar}*not a valid token-file sidecar*");
    }

    [Fact]
    public void MissingSidecarOrFileIsRefused()
    {
        using var dir = new TempDir();
        var path = DataFixtures.WriteTokenFile(dir.Path, "t.bin", Char10, new int[10], 0.1);
        File.Delete(path + ".json");
        FluentActions.Invoking(() => TokenFile.Open(path)).Should().Throw<InvalidDataException>().WithMessage($"*{path}*no sidecar*");
        FluentActions.Invoking(() => TokenFile.Open(dir.File("none.bin"))).Should().Throw<FileNotFoundException>().WithMessage("*none.bin*does not exist*");
    }

    [Fact]
    public void LeftoverTempFileIsNeverTakenAsComplete()
    {
        using var dir = new TempDir();
        var path = dir.File("half.bin");
        // Simulate a prepare killed mid-write: ids under the temp name, no rename, no sidecar.
        var writer = new TokenFileWriter(path, Char10);
        writer.Write(new[] { 1, 2, 3 });
        File.Exists(LMHarness.IO.AtomicFile.TempPath(path)).Should().BeTrue();
        File.Exists(path).Should().BeFalse("ids stay under the temp name until complete");
        writer.Dispose();
        File.Exists(LMHarness.IO.AtomicFile.TempPath(path)).Should().BeFalse("an abandoned writer removes its temp file");
        // Another process killed mid-write leaves its temp file behind; it is reported, never opened.
        File.WriteAllBytes(path + ".99999.tmp", new byte[6]);
        FluentActions.Invoking(() => TokenFile.Open(path)).Should().Throw<FileNotFoundException>().WithMessage("*half.bin.99999.tmp*leftover*never finished*");
    }

    [Fact]
    public void IdsAtOrAboveVocabAreRefusedWithPosition()
    {
        using var dir = new TempDir();
        var path = DataFixtures.WriteTokenFile(dir.Path, "t.bin", Char10, new int[100], 0.1);
        var bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * 77), 12);
        File.WriteAllBytes(path, bytes);
        FluentActions.Invoking(() => TokenFile.Open(path)).Should().Throw<InvalidDataException>().WithMessage($"*{path}*id 12 at position 77*only 10 ids*");
        using var unchecked_ = TokenFile.Open(path, false); // opens: the id scan is skipped
        FluentActions.Invoking(() => unchecked_[77]).Should().Throw<InvalidDataException>()
            .WithMessage($"Token file {path} is damaged in bytes [0, 200)*", "the read still checks the id's block");
    }

    [Fact]
    public void ReadingAfterDisposeIsAnErrorNotACrash()
    {
        using var dir = new TempDir();
        var path = DataFixtures.WriteTokenFile(dir.Path, "t.bin", Char10, new int[10], 0.1);
        var file = TokenFile.Open(path);
        file.Dispose();
        file.Dispose();
        FluentActions.Invoking(() => file[0]).Should().Throw<ObjectDisposedException>();
        FluentActions.Invoking(() => file.Read(0, 2)).Should().Throw<ObjectDisposedException>();
    }

    [Fact]
    public void OpeningWithAnotherTokenizerIsRefused()
    {
        using var dir = new TempDir();
        var path = DataFixtures.WriteTokenFile(dir.Path, "t.bin", Char10, new int[10], 0.1);
        using var file = TokenFile.Open(path);
        var act = () => TokenizerIdentity.Gpt2.EnsureMatches(file.Tokenizer, file.Path);
        act.Should().Throw<InvalidDataException>().WithMessage("*t.bin*gpt2*char (10 ids*");
    }
}

using System.Text;
using LMHarness.Data;
using LMHarness.Tests.Training;
using LMHarness.Tokenizers;
using LMHarness.Training;
using Xunit.Abstractions;

namespace LMHarness.Tests.Integrity;

/// <summary>
/// Per-block checksums in the token file's sidecar (<see cref="TokenBlocks"/>): a changed id that stays inside the
/// vocabulary, which every open accepts, is refused naming the file and the byte range the first time a read touches
/// its block, before any batch holding it is handed out, in the train split and in the val split.
/// </summary>
public class TokenBlockTests(ITestOutputHelper output)
{
    const int BlockBytes = 1024; // 512 ids: the 4,000-id fixture has 8 blocks, the last one holding the val split's start

    /// <summary>The training fixture's 4,000 ids (10 % val) written with small blocks.</summary>
    static string SmallBlockFile(string dir)
    {
        int[] ids;
        using (var fixture = TokenFile.Open(TrainingFixtures.TokenFile(dir))) ids = fixture.Read(0, 4000);
        var path = Path.Combine(dir, "blocks.bin");
        using var w = new TokenFileWriter(path, new TokenizerIdentity(TokenizerKind.Char, 32, TrainingFixtures.AsciiTable), BlockBytes);
        w.Write(ids);
        w.Complete(0.1, 1, []);
        return path;
    }

    [Fact]
    public void Crc32C_is_the_standard_Castagnoli_checksum()
    {
        TokenBlocks.Crc32C(Encoding.ASCII.GetBytes("123456789")).Should().Be(0xE3069283u, "the CRC-32C check value");
        TokenBlocks.Crc32C([]).Should().Be(0u);
    }

    [Fact]
    public void New_sidecars_carry_one_checksum_per_block_and_a_clean_file_reads_through()
    {
        using var dir = new TempDir();
        var path = SmallBlockFile(dir.Path);
        using var file = TokenFile.Open(path);
        file.Info.BlockBytes.Should().Be(BlockBytes);
        file.Info.BlockCrc32c.Should().HaveCount(8);
        var bytes = File.ReadAllBytes(path);
        file.Info.BlockCrc32c![7].Should().Be(TokenBlocks.Crc32C(bytes.AsSpan(7 * BlockBytes)), "the last block is the 832 bytes left");
        file.Read(0, 4000).Should().HaveCount(4000);
        file.Blocks!.Verified.Should().Be(8);
    }

    [Fact]
    public void Fuzz_flips_inside_the_vocabulary_in_train_and_val_are_refused_before_any_batch_from_their_block()
    {
        using var dir = new TempDir();
        var path = SmallBlockFile(dir.Path);
        var original = File.ReadAllBytes(path);
        var rng = new Random(21);
        int train = 0, val = 0;
        for (var c = 0; c < 200; c++)
        {
            // A flip of one of bits 0-4 of a 16-bit id below 32 leaves it below 32: every open accepts the file.
            bool inVal = c % 2 == 1;
            long id = inVal ? rng.NextInt64(3600, 4000) : rng.NextInt64(0, 3600);
            var damaged = (byte[])original.Clone();
            damaged[2 * id] ^= (byte)(1 << rng.Next(5));
            File.WriteAllBytes(path, damaged);
            long blockStart = 2 * id / BlockBytes * BlockBytes, blockEnd = Math.Min(blockStart + BlockBytes, original.Length);
            var what = $"case {c}: id {id} ({(inVal ? "val" : "train")}) flipped, block [{blockStart}, {blockEnd})";

            using var file = TokenFile.Open(path);
            var refused = inVal ? FirstRefusedValidationBatch(file, blockStart, blockEnd, what) : FirstRefusedTrainingBatch(file, blockStart, blockEnd, what);
            refused.Message.Should().Contain(path, what).And.Contain($"bytes [{blockStart}, {blockEnd})", what).And.Contain("Prepare the token file again", what);
            if (inVal) val++; else train++;
        }
        File.WriteAllBytes(path, original);
        output.WriteLine($"in-vocabulary flips refused before use: {train} in train, {val} in val");
        (train, val).Should().Be((100, 100));
    }

    /// <summary>Draws batches until one is refused; every batch handed out before it must not touch the damaged block.</summary>
    static InvalidDataException FirstRefusedTrainingBatch(TokenFile file, long blockStart, long blockEnd, string what)
    {
        var sampler = new RandomWindows(file, batchSize: 4, contextLength: 8, seed: 3);
        var x = new long[32];
        var y = new long[32];
        for (var n = 0; n < 5000; n++)
        {
            var rows = Enumerable.Range(0, 4).Select(r => sampler.Offset(sampler.BatchesDrawn, r)).ToList();
            bool touches = rows.Any(s => 2 * s < blockEnd && 2 * (s + 9) > blockStart);
            try { sampler.NextInto(x, y); }
            catch (InvalidDataException e)
            {
                touches.Should().BeTrue($"{what}: batch {n} was refused without touching the damaged block");
                return e;
            }
            touches.Should().BeFalse($"{what}: batch {n} read the damaged block and was handed out");
        }
        throw new Xunit.Sdk.XunitException($"{what}: 5,000 batches never reached the damaged block");
    }

    static InvalidDataException FirstRefusedValidationBatch(TokenFile file, long blockStart, long blockEnd, string what)
    {
        const int t = 8, b = 4;
        long windowsRead = 0;
        try
        {
            foreach (var (x, y) in new ValidationBatches(file, b, t))
            {
                using (x) using (y)
                {
                    long first = file.TrainTokens + windowsRead * t, end = first + x.shape[0] * t + 1;
                    (2 * first < blockEnd && 2 * end > blockStart).Should().BeFalse($"{what}: a validation batch read the damaged block and was handed out");
                    windowsRead += x.shape[0];
                }
            }
        }
        catch (InvalidDataException e) { return e; }
        throw new Xunit.Sdk.XunitException($"{what}: the whole val split was read without a refusal");
    }

    [Fact]
    public void A_sidecar_whose_block_sums_do_not_cover_the_file_is_refused_at_open()
    {
        using var dir = new TempDir();
        var path = SmallBlockFile(dir.Path);
        var sidecar = TokenFileInfo.SidecarPath(path);
        var text = File.ReadAllText(sidecar);
        File.WriteAllText(sidecar, TokenFileInfo.WithBlockSums(TokenFileInfo.WithoutBlockSums(text), BlockBytes, [1, 2, 3]));
        FluentActions.Invoking(() => TokenFile.Open(path)).Should().Throw<InvalidDataException>()
            .WithMessage($"{sidecar} has block_bytes 1024 and 3 block checksums, which do not cover 4000 uint16 ids*Prepare the token file again.");
    }

    [Fact]
    public void An_older_sidecar_gets_its_small_file_verified_whole_at_open_and_a_big_one_a_warning_naming_the_upgrade()
    {
        using var dir = new TempDir();
        var path = SmallBlockFile(dir.Path);
        var sidecar = TokenFileInfo.SidecarPath(path);
        var withSums = File.ReadAllText(sidecar);
        File.WriteAllText(sidecar, TokenFileInfo.WithoutBlockSums(withSums)); // as prepared before block sums existed
        var bytes = File.ReadAllBytes(path);
        bytes[2 * 100] ^= 0x01;
        File.WriteAllBytes(path, bytes);

        FluentActions.Invoking(() => TokenFile.Open(path)).Should().Throw<InvalidDataException>()
            .WithMessage($"Token file {path} does not match the SHA-256 in its sidecar*", "a small file is verified whole when its sidecar has no block sums");

        var warnings = new StringWriter();
        using (var big = TokenFile.Open(path, checkIds: true, verifyAtOpenBytes: 1000, warnings))
            big.Blocks.Should().BeNull();
        using (TokenFile.Open(path, checkIds: true, verifyAtOpenBytes: 1000, warnings)) { }
        warnings.ToString().Should().Be(
            $"warning: token file {path} (0.0 GB) has no block checksums (its sidecar predates them): a changed id that stays below the vocab size would train unnoticed. " +
            $"Add them once with: dotnet script scripts/prepare.csx -- --verify {path}{Environment.NewLine}", "once per file per process");
    }

    [Fact]
    public void Adding_block_sums_to_an_older_sidecar_keeps_the_files_identity_and_refuses_a_damaged_file()
    {
        using var dir = new TempDir();
        var path = SmallBlockFile(dir.Path);
        var sidecar = TokenFileInfo.SidecarPath(path);
        var withSums = File.ReadAllText(sidecar);
        string identity;
        using (var f = TokenFile.Open(path)) identity = f.Identity;
        File.WriteAllText(sidecar, TokenFileInfo.WithoutBlockSums(withSums));
        var written = File.GetLastWriteTimeUtc(path);
        using (var old = TokenFile.Open(path)) (old.Identity, old.Blocks).Should().Be((identity, null));

        TokenFile.AddBlockSums(path, BlockBytes).Should().BeTrue();
        File.ReadAllText(sidecar).Should().Be(withSums, "the sums are appended to the text as a prepare writes them");
        using (var upgraded = TokenFile.Open(path)) (upgraded.Identity, upgraded.Blocks!.Count).Should().Be((identity, 8));
        File.GetLastWriteTimeUtc(path).Should().Be(written);
        TokenFile.AddBlockSums(path, BlockBytes).Should().BeFalse("it has them already");

        File.WriteAllText(sidecar, TokenFileInfo.WithoutBlockSums(withSums));
        var bytes = File.ReadAllBytes(path);
        bytes[2 * 3000] ^= 0x02;
        File.WriteAllBytes(path, bytes);
        FluentActions.Invoking(() => TokenFile.AddBlockSums(path)).Should().Throw<InvalidDataException>().WithMessage("*does not match the SHA-256*");
        File.ReadAllText(sidecar).Should().NotContain("block_crc32c", "sums of damaged bytes would bless the damage");
    }
}

/// <summary>The trainer on a token file damaged inside the vocabulary: it stops, naming the file, instead of training on it.</summary>
[Collection(nameof(GlobalTorchState))]
public class TokenBlockTrainingTests
{
    [Fact]
    public void Training_on_a_file_with_an_in_vocabulary_flip_stops_naming_the_file_and_byte_range()
    {
        using var dir = new TempDir();
        var path = TrainingFixtures.TokenFile(dir.Path);
        var bytes = File.ReadAllBytes(path);
        bytes[2 * 2000] ^= 0x04; // id k -> k xor 4: still below the 32-id vocab, in the train split
        File.WriteAllBytes(path, bytes);

        var act = () => Trainer.Run(TrainingFixtures.TinyModel, TrainingFixtures.TinyTraining, path, dir.File("run"));

        act.Should().Throw<InvalidDataException>().WithMessage($"Token file {path} is damaged in bytes [0, 8000) (block 0 of 1)*so no batch is read from them*");
    }
}

using LMHarness.Data;
using LMHarness.Tokenizers;
using TorchSharp;

namespace LMHarness.Tests.Data;

public class RandomWindowsTests
{
    /// <summary>A token file whose id at position i is i % vocab: a window's content reveals its offset.</summary>
    static (TempDir Dir, TokenFile File) Ramp(int count, int vocab, double valFraction)
    {
        var dir = new TempDir();
        var id = new TokenizerIdentity(TokenizerKind.Char, vocab, new string(Enumerable.Range(0, vocab).Select(i => (char)(0x100 + i)).ToArray()));
        var path = DataFixtures.WriteTokenFile(dir.Path, "r.bin", id, Enumerable.Range(0, count).Select(i => i % vocab).ToArray(), valFraction);
        return (dir, TokenFile.Open(path));
    }

    [Fact]
    public void BatchesAreWindowsOfTrainSplitShiftedByOne()
    {
        var (dir, file) = Ramp(10_000, 60_000, 0.2);
        using var _ = dir; using var __ = file;
        var sampler = new RandomWindows(file, 4, 16, 7);
        for (int n = 0; n < 50; n++)
        {
            var (x, y) = sampler.Next();
            x.shape.Should().Equal(4, 16);
            y.shape.Should().Equal(4, 16);
            x.dtype.Should().Be(torch.ScalarType.Int64);
            var xs = x.data<long>().ToArray();
            var ys = y.data<long>().ToArray();
            for (int r = 0; r < 4; r++)
            {
                long start = xs[r * 16];
                start.Should().BeInRange(0, 8000 - 17, "the window of T+1 ids lies in the train split");
                for (int t = 0; t < 16; t++)
                {
                    xs[r * 16 + t].Should().Be(start + t);
                    ys[r * 16 + t].Should().Be(start + t + 1);
                }
            }
            x.Dispose(); y.Dispose();
        }
        sampler.BatchesDrawn.Should().Be(50);
    }

    [Fact]
    public void SameSeedSameBatchesOtherSeedOthers()
    {
        var (dir, file) = Ramp(5_000, 1000, 0.1);
        using var _ = dir; using var __ = file;
        long[] Draw(long seed, int n)
        {
            var s = new RandomWindows(file, 8, 32, seed);
            var x = new long[256]; var y = new long[256];
            var all = new List<long>();
            for (int i = 0; i < n; i++) { s.NextInto(x, y); all.AddRange(x); }
            return [.. all];
        }
        Draw(1, 20).Should().Equal(Draw(1, 20));
        Draw(1, 20).Should().NotEqual(Draw(2, 20));
    }

    [Fact]
    public void RestoredStateContinuesTheExactSequence()
    {
        var (dir, file) = Ramp(5_000, 1000, 0.1);
        using var _ = dir; using var __ = file;
        var a = new RandomWindows(file, 3, 20, 1234);
        for (int i = 0; i < 17; i++) a.Next();
        var json = a.State.ToJson();
        var state = RandomWindowsState.FromJson(json);
        state.Should().Be(new RandomWindowsState(1234, 17));
        var b = new RandomWindows(file, 3, 20, state);
        for (int i = 0; i < 5; i++)
        {
            var (xa, ya) = a.Next();
            var (xb, yb) = b.Next();
            xa.data<long>().ToArray().Should().Equal(xb.data<long>().ToArray());
            ya.data<long>().ToArray().Should().Equal(yb.data<long>().ToArray());
        }
        a.State.Should().Be(b.State);
    }

    [Fact]
    public void EarlierBatchesAreNotOverwrittenByLaterOnes()
    {
        var (dir, file) = Ramp(5_000, 1000, 0.1);
        using var _ = dir; using var __ = file;
        var s = new RandomWindows(file, 2, 8, 3);
        var (x1, y1) = s.Next();
        var copy = x1.data<long>().ToArray();
        var ycopy = y1.data<long>().ToArray();
        for (int i = 0; i < 3; i++) s.Next();
        x1.data<long>().ToArray().Should().Equal(copy);
        y1.data<long>().ToArray().Should().Equal(ycopy);
    }

    [Fact]
    public void OffsetsCoverTheTrainSplitUniformly()
    {
        var (dir, file) = Ramp(1_010, 1000, 0.0);
        using var _ = dir; using var __ = file;
        var s = new RandomWindows(file, 10, 10, 99);
        var counts = new int[1000];
        for (long n = 0; n < 10_000; n++) for (int r = 0; r < 10; r++) counts[s.Offset(n, r)]++;
        // 100k draws over 1000 offsets: mean 100, sd 10; all within 6 sd.
        counts.Min().Should().BeGreaterThan(40);
        counts.Max().Should().BeLessThan(160);
    }

    [Fact]
    public void DoesNotUseTorchGlobalRng()
    {
        var (dir, file) = Ramp(5_000, 1000, 0.1);
        using var _ = dir; using var __ = file;
        torch.manual_seed(1);
        var a = new RandomWindows(file, 2, 8, 5).Next().X.data<long>().ToArray();
        torch.manual_seed(2); torch.rand(10);
        var b = new RandomWindows(file, 2, 8, 5).Next().X.data<long>().ToArray();
        a.Should().Equal(b);
    }

    [Fact]
    public void TooShortTrainSplitIsRefused()
    {
        var (dir, file) = Ramp(20, 100, 0.5);
        using var _ = dir; using var __ = file;
        FluentActions.Invoking(() => new RandomWindows(file, 1, 10, 0)).Should().Throw<ArgumentException>().WithMessage("*10 tokens*context 10 needs 11*");
    }

    [Fact]
    public void ValidationBatchesAreFixedContiguousWindowsOfValSplit()
    {
        var (dir, file) = Ramp(1_000, 1000, 0.1); // val = ids 900..999
        using var _ = dir; using var __ = file;
        var val = new ValidationBatches(file, 4, 10);
        val.Windows.Should().Be(9, "(100 - 1) / 10 windows fit with their shifted targets");
        val.Count.Should().Be(3);
        var batches = val.ToList();
        batches.Select(b => (int)b.X.shape[0]).Should().Equal(4, 4, 1);
        var firsts = batches.SelectMany(b => b.X.data<long>().ToArray()).ToArray();
        firsts.Should().Equal(Enumerable.Range(900, 90).Select(i => (long)i));
        batches.SelectMany(b => b.Y.data<long>().ToArray()).Should().Equal(Enumerable.Range(901, 90).Select(i => (long)i));
        var again = val.SelectMany(b => b.X.data<long>().ToArray()).ToArray();
        again.Should().Equal(firsts);
        new ValidationBatches(file, 4, 10, 1).Select(b => b.X.shape[0]).Should().Equal(4);
    }

    [Fact]
    public void EmptyValSplitIsRefused()
    {
        var (dir, file) = Ramp(100, 100, 0.0);
        using var _ = dir; using var __ = file;
        FluentActions.Invoking(() => new ValidationBatches(file, 1, 8)).Should().Throw<ArgumentException>().WithMessage("*val split*0 tokens*");
    }
}

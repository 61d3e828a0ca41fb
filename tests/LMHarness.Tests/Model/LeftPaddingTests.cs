using LMHarness.Config;
using LMHarness.Model;
using static TorchSharp.torch;

namespace LMHarness.Tests.Model;

/// <summary>A left-padded row must get exactly the logits it gets alone, uncached and cached, for every block kind.</summary>
public class LeftPaddingTests
{
    public static IEnumerable<object[]> Kinds() => Tiny.Cases();

    // Wide weights (init_std 0.3) and five layers with skips give the option cases logits of several units, where
    // float rounding alone reaches 1e-5.
    static double Tolerance(string option) => option == Tiny.NoOption ? 1e-5 : 5e-5;

    static int[][] Prompts(ModelConfig config)
    {
        var rng = new Random(7);
        return new[] { 9, 3, 6, 1 }.Select(n => Enumerable.Range(0, n).Select(_ => rng.Next(config.VocabSize)).ToArray()).ToArray();
    }

    static Tensor Row(int[] ids) => tensor(ids.Select(x => (long)x).ToArray(), [1, ids.Length]);

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Padded_rows_match_each_prompt_alone_without_cache(string option, AttentionKind attention, PositionKind position, int nKvHead)
    {
        var config = Tiny.Case(option, attention, position, nKvHead);
        var model = Tiny.Build(config);
        var prompts = Prompts(config);
        using var _ = no_grad();
        var (ids, padding) = LeftPadding.Pack(prompts, CPU);
        padding.Pads.Should().Equal(0, 6, 3, 8);
        var logits = model.forward(ids, padding);
        var last = model.ForwardLast(ids, padding);
        for (int r = 0; r < prompts.Length; r++)
        {
            var alone = model.forward(Row(prompts[r]));
            var real = logits[r].narrow(0, padding.Pads[r], prompts[r].Length).unsqueeze(0);
            Tiny.MaxAbsDiff(real, alone).Should().BeLessThan(Tolerance(option), $"row {r}");
            Tiny.MaxAbsDiff(last[r], alone[0, -1]).Should().BeLessThan(Tolerance(option), $"last of row {r}");
        }
        logits.isfinite().all().item<bool>().Should().BeTrue("filler columns must stay finite so no NaN can leak");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Padded_rows_match_each_prompt_alone_with_cache(string option, AttentionKind attention, PositionKind position, int nKvHead)
    {
        var config = Tiny.Case(option, attention, position, nKvHead);
        var model = Tiny.Build(config);
        var prompts = Prompts(config);
        var (ids, padding) = LeftPadding.Pack(prompts, CPU);
        // Three more tokens per row, fed one column at a time (then two at once) after the padded prompt.
        var more = Tiny.Tokens(config, prompts.Length, 3, seed: 5);
        using var cache = model.NewCache(prompts.Length);
        var batched = new List<Tensor>
        {
            model.ForwardCached(ids, cache, padding),
            model.ForwardCached(more.narrow(1, 0, 1), cache, padding),
            model.ForwardCached(more.narrow(1, 1, 2), cache, padding),
        };
        cache.Position.Should().Be(ids.shape[1] + 3);
        var all = cat(batched, 1);
        for (int r = 0; r < prompts.Length; r++)
        {
            using var single = model.NewCache(1);
            var row = Row(prompts[r]);
            var alone = cat([model.ForwardCached(row, single), model.ForwardCached(more[r].narrow(0, 0, 1).unsqueeze(0), single),
                model.ForwardCached(more[r].narrow(0, 1, 2).unsqueeze(0), single)], 1);
            var real = all[r].narrow(0, padding.Pads[r], prompts[r].Length + 3).unsqueeze(0);
            Tiny.MaxAbsDiff(real, alone).Should().BeLessThan(Tolerance(option), $"row {r}");
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Filler_ids_never_change_real_logits(string option, AttentionKind attention, PositionKind position, int nKvHead)
    {
        var config = Tiny.Case(option, attention, position, nKvHead);
        var model = Tiny.Build(config);
        var (ids, padding) = LeftPadding.Pack(Prompts(config), CPU);
        using var _ = no_grad();
        var other = ids.clone();
        for (int r = 0; r < padding.Batch; r++)
            if (padding.Pads[r] > 0) other[r].narrow(0, 0, padding.Pads[r]).fill_((r * 11 + 5) % config.VocabSize);
        other.eq(ids).all().item<bool>().Should().BeFalse("the filler must really differ");
        var a = model.forward(ids, padding);
        var b = model.forward(other, padding);
        for (int r = 0; r < padding.Batch; r++)
        {
            long p = padding.Pads[r];
            Tiny.MaxAbsDiff(a[r].narrow(0, p, ids.shape[1] - p), b[r].narrow(0, p, ids.shape[1] - p)).Should().BeLessThan(Tolerance(option), $"row {r}");
        }
    }

    [Fact]
    public void Padding_that_does_not_fit_the_batch_is_refused()
    {
        var model = Tiny.Build(Tiny.Config(AttentionKind.Mha, PositionKind.Rope));
        var ids = Tiny.Tokens(model.Config, 2, 4);
        var wrongRows = () => model.forward(ids, new LeftPadding([0, 1, 2]));
        wrongRows.Should().Throw<ArgumentException>().WithMessage("*3 rows*batch has 2*");
        var allPad = () => model.forward(ids, new LeftPadding([0, 4]));
        allPad.Should().Throw<ArgumentException>().WithMessage("*row 1 is all padding*");
        new LeftPadding([0, 2]).Should().Be(new LeftPadding([0, 2]));
        new LeftPadding([3, 0]).Drop(1).Should().Be(new LeftPadding([2, 0]));
        var negative = () => new LeftPadding([0, -1]);
        negative.Should().Throw<ArgumentException>().WithMessage("*negative*");
    }
}

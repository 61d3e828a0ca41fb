using LMHarness.Config;
using LMHarness.Model;
using static TorchSharp.torch;

namespace LMHarness.Tests.Model;

public class KVCacheTests
{
    public static IEnumerable<object[]> Kinds() => Tiny.Cases();

    private static List<long> GreedyWithoutCache(CausalLM model, Tensor prompt, int steps)
    {
        var idx = prompt.clone();
        var result = new List<long>();
        for (int i = 0; i < steps; i++)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            long next = model.ForwardLast(idx).argmax(-1).item<long>();
            result.Add(next);
            idx = cat([idx, tensor(new[] { next }).view(1, 1)], 1).DetachFromDisposeScope();
        }
        return result;
    }

    private static List<long> GreedyWithCache(CausalLM model, Tensor prompt, int steps)
    {
        using var cache = model.NewCache(1);
        var result = new List<long>();
        var input = prompt;
        for (int i = 0; i < steps; i++)
        {
            using var scope = NewDisposeScope();
            var logits = model.ForwardCached(input, cache);
            long next = logits.select(1, -1).argmax(-1).item<long>();
            result.Add(next);
            input = tensor(new[] { next }).view(1, 1).DetachFromDisposeScope();
        }
        cache.Position.Should().Be(prompt.shape[1] + steps - 1);
        return result;
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Greedy_decoding_with_the_cache_equals_decoding_without_it(string option, AttentionKind a, PositionKind p, int nKvHead)
    {
        // Untied and with wide weights: a tied random model just repeats its input token, which would hide position bugs.
        var config = Tiny.Case(option, a, p, nKvHead) with { TieEmbeddings = false, InitStd = 0.3 };
        using var model = Tiny.Build(config, seed: 42);
        using var prompt = Tiny.Tokens(config, 1, 7);
        var plain = GreedyWithoutCache(model, prompt, 20);
        var cached = GreedyWithCache(model, prompt, 20);
        cached.Should().Equal(plain);
        // A zero-initialised model predicts uniformly (all logits 0) until trained: its greedy output is constant.
        if (option != "zero_init_outputs")
            plain.Distinct().Count().Should().BeGreaterThan(1, "a constant sequence would hide position bugs");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Chunked_cached_logits_equal_the_full_forward(string option, AttentionKind a, PositionKind p, int nKvHead)
    {
        using var scope = NewDisposeScope();
        var config = Tiny.Case(option, a, p, nKvHead);
        using var model = Tiny.Build(config, seed: 43);
        var idx = Tiny.Tokens(config, 2, 13);
        var full = model.forward(idx);
        using var cache = model.NewCache(2);
        var parts = new[] { (0, 5), (5, 1), (6, 7) } // prompt, one token, then a chunk with a shifted causal mask
            .Select(r => model.ForwardCached(idx.narrow(1, r.Item1, r.Item2), cache)).ToArray();
        Tiny.MaxAbsDiff(cat(parts, 1), full).Should().BeLessThan(1e-5);
        cache.Position.Should().Be(13);

        var kvHeads = a switch { AttentionKind.Gqa => nKvHead, AttentionKind.Differential => 2 * config.NHead, _ => config.NHead };
        cache.Layer(0).K!.shape.Should().Equal(2, kvHeads, 13, a == AttentionKind.Differential ? config.HeadDim / 2 : config.HeadDim);
        cache.Layer(0).V!.shape[1].Should().Be(a == AttentionKind.Gqa ? nKvHead : config.NHead);
    }

    [Theory]
    [InlineData(AttentionKind.Gqa)]
    [InlineData(AttentionKind.Differential)]
    public void The_cache_grows_past_its_initial_capacity(AttentionKind a)
    {
        using var scope = NewDisposeScope();
        var config = Tiny.Config(a, PositionKind.Rope) with { ContextLength = 4 }; // the cache reserves 4 positions
        using var model = Tiny.Build(config);
        var idx = Tiny.Tokens(config, 2, 13);
        var full = model.forward(idx);
        using var cache = model.NewCache(2);
        var parts = new List<Tensor> { model.ForwardCached(idx.narrow(1, 0, 3), cache) };
        cache.Layer(0).Capacity.Should().Be(4);
        for (int t = 3; t < 13; t++) parts.Add(model.ForwardCached(idx.narrow(1, t, 1), cache));
        cache.Layer(0).Capacity.Should().Be(16);
        Tiny.MaxAbsDiff(cat(parts, 1), full).Should().BeLessThan(1e-5);
        cache.Reset();
        cache.Position.Should().Be(0);
        cache.Layer(0).K.Should().BeNull();
        Tiny.MaxAbsDiff(model.ForwardCached(idx, cache), full).Should().BeLessThan(1e-5);
    }

    [Fact]
    public void Learned_positions_stop_at_the_context_length_with_a_clear_error()
    {
        var config = Tiny.Config(AttentionKind.Mha, PositionKind.Learned) with { ContextLength = 8 };
        using var model = Tiny.Build(config);
        using var cache = model.NewCache(1);
        using var prompt = Tiny.Tokens(config, 1, 8);
        using var logits = model.ForwardCached(prompt, cache);
        using var one = Tiny.Tokens(config, 1, 1);
        model.Invoking(m => m.ForwardCached(one, cache)).Should().Throw<ArgumentException>().WithMessage("*context_length (8)*");
    }

    [Fact]
    public void A_cache_for_another_batch_or_model_is_rejected()
    {
        var config = Tiny.Config(AttentionKind.Mha, PositionKind.Rope);
        using var model = Tiny.Build(config);
        using var cache = model.NewCache(2);
        using var idx = Tiny.Tokens(config, 1, 3);
        model.Invoking(m => m.ForwardCached(idx, cache)).Should().Throw<ArgumentException>().WithMessage("*batch*");
        using var other = new KVCache(5, 1);
        model.Invoking(m => m.ForwardCached(idx, other)).Should().Throw<ArgumentException>().WithMessage("*layers*");
    }
}

using LMHarness.Generation;
using LMHarness.Tests.Memory;
using LMHarness.Tokenizers;
using LMHarness.Training;

namespace LMHarness.Tests.Generation;

/// <summary>
/// Issue 27, item 3: what generation allocates is decided by what it can fill (the prompt plus --max, up to the
/// context), not by the config's context length, which for a RoPE model no weights check: the KV cache and the RoPE
/// table start small, and a cache the machine cannot hold is refused with the figure before it is allocated.
/// </summary>
[Collection(nameof(GlobalTorchState))]
public class GenerationMemoryTests
{
    // 2^24 positions: a cache of them is 4 GB (2 layers x K and V x 2 kv heads x 8 channels x 4 bytes = 256 bytes a
    // position), and a RoPE table of them ~0.5 GB: what this model reserved before, for a 7-token generation.
    static readonly LMHarness.Config.ModelConfig LongContext = TinyModels.Llama with { ContextLength = 1 << 24 };

    [Fact]
    public void A_short_generation_from_a_long_context_model_reserves_what_it_fills()
    {
        using var model = TinyModels.Build(LongContext, 7);
        var generator = new Generator(model, new ByteTokenizer());
        generator.Generate("ab", new SamplingOptions { MaxNewTokens = 1, Seed = 1 });   // kernels and JIT warm
        GC.Collect();
        ResidentMemory.ResetPeak().Should().BeTrue();
        var before = ResidentMemory.Megabytes();
        generator.Generate("ab", new SamplingOptions { MaxNewTokens = 5, Seed = 1 }).Tokens.Should().HaveCount(5);
        (ResidentMemory.PeakMegabytes() - before).Should().BeLessThan(64, "7 positions of cache and rotary table, not 2^24");
    }

    [Fact]
    public void A_cache_larger_than_the_memory_limit_is_refused_with_the_figure()
    {
        using var model = TinyModels.Build(LongContext, 7);
        var generator = new Generator(model, new ByteTokenizer());
        using var limit = new StatedMemoryLimit(64);
        // Every id stops it, so a generator that does not refuse ends after one token instead of running for 2^31.
        var anyToken = Enumerable.Range(0, 256).ToList();
        var act = () => generator.Generate("ab", new SamplingOptions { MaxNewTokens = int.MaxValue - 2, Seed = 1, StopTokens = anyToken });
        act.Should().Throw<InsufficientMemoryException>().WithMessage(
            $"Generating up to 2,147,483,645 tokens after a prompt of 2 needs 4.0 GB (a KV cache of 16,777,216 positions x 1 sequences x 2 layers) but this process may use only 64 MB more ({MachineMemory.LimitVariable}=64): ask for fewer tokens (--max)*");
        generator.Generate("ab", new SamplingOptions { MaxNewTokens = 5, Seed = 1 }).Tokens.Should().HaveCount(5, "5 tokens need 7 positions");
    }
}

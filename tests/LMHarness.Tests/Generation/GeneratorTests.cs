using System.Text;
using LMHarness.Config;
using LMHarness.Generation;
using LMHarness.Tokenizers;

namespace LMHarness.Tests.Generation;

public class GeneratorTests
{
    static readonly ITokenizer Bytes = new ByteTokenizer();

    public static TheoryData<string> Kinds => ["raw", "mha", "gqa", "mqa", "differential", "learned-mha", "nope-gqa", "yarn-gqa", "mixed"];

    static ModelConfig Config(string kind) => kind switch
    {
        "raw" => TinyModels.Llama with { AttentionKinds = [AttentionKind.Raw], NKvHead = 4 },
        "mha" => TinyModels.Llama with { AttentionKinds = [AttentionKind.Mha], NKvHead = 4 },
        "gqa" => TinyModels.Llama,
        "mqa" => TinyModels.Llama with { NKvHead = 1 },
        "differential" => TinyModels.Llama with { AttentionKinds = [AttentionKind.Differential] },
        "learned-mha" => TinyModels.Gpt2,
        "nope-gqa" => TinyModels.Llama with { Position = PositionKind.None },
        "yarn-gqa" => TinyModels.Llama with { Yarn = new YarnScaling(4, 16) },
        "mixed" => TinyModels.Llama with { AttentionKinds = [AttentionKind.Gqa, AttentionKind.Differential] },
        _ => throw new ArgumentException(kind),
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Greedy_with_cache_equals_greedy_without_token_for_token(string kind)
    {
        var gen = new Generator(TinyModels.Build(Config(kind), 1), Bytes);
        var opts = SamplingOptions.Greedy with { MaxNewTokens = 24 };
        var prompts = new[] { Bytes.Encode("To be, or not"), Bytes.Encode("KING") };
        var cached = gen.GenerateIds(prompts, opts, useCache: true, null);
        var plain = gen.GenerateIds(prompts, opts, useCache: false, null);
        for (int i = 0; i < prompts.Length; i++)
        {
            cached[i].Tokens.Should().HaveCount(24);
            cached[i].Tokens.Should().Equal(plain[i].Tokens, $"prompt {i}, {kind}");
        }
        cached[0].Tokens.Distinct().Count().Should().BeGreaterThan(1, "a degenerate model would make the equality vacuous");
    }

    [Fact]
    public void Batched_generation_equals_one_prompt_at_a_time()
    {
        var gen = new Generator(TinyModels.Build(TinyModels.Llama, 2), Bytes);
        var prompts = new[] { "First Citizen:", "ROMEO", "Second Citizen", "JULIET", "abc" };
        var opts = SamplingOptions.Greedy with { MaxNewTokens = 12 };
        var batched = gen.Generate(prompts, opts);
        for (int i = 0; i < prompts.Length; i++)
            batched[i].Tokens.Should().Equal(gen.Generate(prompts[i], opts).Tokens, prompts[i]);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Prompts_of_different_lengths_in_one_padded_batch_equal_one_prompt_at_a_time(string kind)
    {
        var gen = new Generator(TinyModels.Build(Config(kind), 3), Bytes);
        var prompts = new[] { Bytes.Encode("O Romeo, Romeo"), Bytes.Encode("KING"), Bytes.Encode("a"), Bytes.Encode("Thou art") };
        var opts = SamplingOptions.Greedy with { MaxNewTokens = 16 };
        foreach (var useCache in new[] { true, false })
        {
            var batched = gen.GenerateIds(prompts, opts, useCache, null);
            for (int i = 0; i < prompts.Length; i++)
            {
                var alone = gen.GenerateIds([prompts[i]], opts, useCache, null)[0];
                alone.Tokens.Should().HaveCount(16);
                batched[i].Tokens.Should().Equal(alone.Tokens, $"prompt {i}, {kind}, cache {useCache}");
            }
        }
    }

    [Fact]
    public void Repetition_penalty_changes_greedy_output_and_cache_still_matches()
    {
        var gen = new Generator(TinyModels.Build(TinyModels.Llama, 8), Bytes);
        var plain = SamplingOptions.Greedy with { MaxNewTokens = 24 };
        var penalised = plain with { RepetitionPenalty = 3.0 };
        var prompt = new[] { Bytes.Encode("aaaa bbbb") };
        var free = gen.GenerateIds(prompt, plain, true, null)[0].Tokens;
        var pen = gen.GenerateIds(prompt, penalised, true, null)[0].Tokens;
        gen.GenerateIds(prompt, penalised, false, null)[0].Tokens.Should().Equal(pen);
        pen.Should().NotEqual(free);
        pen.Distinct().Count().Should().BeGreaterThanOrEqualTo(free.Distinct().Count(), "seen tokens are pushed down, so fewer repeats");
    }

    [Fact]
    public void Stop_token_ends_generation_without_being_emitted()
    {
        var gen = new Generator(TinyModels.Build(TinyModels.Llama, 3), Bytes);
        var free = gen.Generate("hello", SamplingOptions.Greedy with { MaxNewTokens = 10 });
        free.Reason.Should().Be(StopReason.MaxNewTokens);
        var stopAt = free.Tokens[4];
        int first = free.Tokens.ToList().IndexOf(stopAt);
        var stopped = gen.Generate("hello", SamplingOptions.Greedy with { MaxNewTokens = 10, StopTokens = [stopAt] });
        stopped.Reason.Should().Be(StopReason.StopToken);
        stopped.Tokens.Should().Equal(free.Tokens.Take(first));
    }

    [Fact]
    public void Stop_string_cuts_the_text_and_is_never_streamed()
    {
        var gen = new Generator(TinyModels.Build(TinyModels.Llama, 4), Bytes);
        var free = gen.Generate("hello", SamplingOptions.Greedy with { MaxNewTokens = 12 });
        var stop = free.Text.Substring(5, 2);
        int at = free.Text.IndexOf(stop, StringComparison.Ordinal);
        var streamed = new StringBuilder();
        var r = gen.Generate("hello", SamplingOptions.Greedy with { MaxNewTokens = 12, StopStrings = [stop] }, s => streamed.Append(s));
        r.Reason.Should().Be(StopReason.StopString);
        r.Text.Should().Be(free.Text[..at]);
        streamed.ToString().Should().Be(r.Text);
    }

    [Fact]
    public void Streaming_delivers_exactly_the_final_text_and_max_new_tokens_is_respected()
    {
        var gen = new Generator(TinyModels.Build(TinyModels.Gpt2, 5), Bytes);
        var pieces = new List<string>();
        var r = gen.Generate("abc", new SamplingOptions { Temperature = 0.8, TopK = 20, MaxNewTokens = 17, Seed = 3 }, pieces.Add);
        r.Tokens.Should().HaveCount(17);
        string.Concat(pieces).Should().Be(r.Text);
        pieces.Count.Should().BeGreaterThan(1, "text is streamed as it is generated, not at the end");
        gen.Generate("abc", new SamplingOptions { Temperature = 0.8, TopK = 20, MaxNewTokens = 17, Seed = 3 }).Tokens.Should().Equal(r.Tokens, "same seed, same draw");
    }

    sealed class Collect : IObserver<string>
    {
        public List<string> Pieces { get; } = [];
        public bool Completed { get; private set; }
        public void OnNext(string value) => Pieces.Add(value);
        public void OnCompleted() => Completed = true;
        public void OnError(Exception error) => throw error;
    }

    [Fact]
    public void Observer_streaming_gets_every_piece_then_completion()
    {
        var gen = new Generator(TinyModels.Build(TinyModels.Llama, 9), Bytes);
        var obs = new Collect();
        var r = gen.Generate("abc", SamplingOptions.Greedy with { MaxNewTokens = 9 }, obs);
        string.Concat(obs.Pieces).Should().Be(r.Text);
        obs.Completed.Should().BeTrue();
    }

    [Fact]
    public void Generation_beyond_the_context_slides_the_window()
    {
        var gen = new Generator(TinyModels.Build(TinyModels.Gpt2 with { ContextLength = 16 }, 6), Bytes);
        var r = gen.Generate("abcdefgh", SamplingOptions.Greedy with { MaxNewTokens = 30 });
        r.Tokens.Should().HaveCount(30);
    }

    [Fact]
    public void Empty_prompt_and_foreign_tokenizer_are_refused()
    {
        var gen = new Generator(TinyModels.Build(TinyModels.Llama, 7), Bytes);
        var act = () => gen.Generate("", SamplingOptions.Greedy);
        act.Should().Throw<ArgumentException>().WithMessage("*prompt 0 is empty*");
        var big = () => new Generator(TinyModels.Build(TinyModels.Llama, 7), LMHarness.Tokenizers.TokenizerFactory.ByName("gpt2"));
        big.Should().Throw<ArgumentException>().WithMessage("*50257 ids*vocab_size is 256*");
    }

    [Fact]
    public void Transcript_colours_prompt_and_continuation_unless_plain()
    {
        var sw = new StringWriter();
        var t = new ColouredTranscript(sw, colour: true);
        t.Prompt("Hi"); t.Continuation(" there"); t.End();
        sw.ToString().Should().Be("\u001b[1;34mHi\u001b[0m\u001b[32m there\u001b[0m" + Environment.NewLine);
        var plain = new StringWriter();
        var p = new ColouredTranscript(plain, colour: false);
        p.Prompt("Hi"); p.Continuation(" there"); p.End();
        plain.ToString().Should().Be("Hi there" + Environment.NewLine);
    }
}

using LMHarness.Generation;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Tests.Generation;

public class SamplerTests
{
    // Probabilities 0.5, 0.3, 0.15, 0.05 as logits (softmax(log p) = p).
    static Tensor Logits() => torch.tensor(new[] { 0.5f, 0.3f, 0.15f, 0.05f }).log().unsqueeze(0);

    static float[] Probs(SamplingOptions o) { using var s = new Sampler(o); return s.Probabilities(Logits()).squeeze(0).data<float>().ToArray(); }

    [Fact]
    public void Top_k_of_one_equals_greedy()
    {
        torch.manual_seed(3);
        var logits = torch.randn(16, 97);
        using var topk1 = new Sampler(new SamplingOptions { TopK = 1, Seed = 7 });
        using var greedy = new Sampler(SamplingOptions.Greedy);
        var g = greedy.Next(logits).data<long>().ToArray();
        g.Should().Equal(logits.argmax(-1).data<long>().ToArray());
        for (int i = 0; i < 5; i++) topk1.Next(logits).data<long>().ToArray().Should().Equal(g);
    }

    [Fact]
    public void Top_k_keeps_the_k_most_probable()
    {
        var p = Probs(new SamplingOptions { TopK = 2 });
        p.Should().Equal([0.625f, 0.375f, 0f, 0f], (a, b) => Math.Abs(a - b) < 1e-6);
    }

    [Fact]
    public void Min_p_drops_tokens_below_p_times_max()
    {
        // floor = 0.35 * 0.5 = 0.175: 0.15 and 0.05 go, 0.5 and 0.3 stay and renormalise.
        Probs(new SamplingOptions { MinP = 0.35 }).Should().Equal([0.625f, 0.375f, 0f, 0f], (a, b) => Math.Abs(a - b) < 1e-6);
        // floor = 0.2 * 0.5 = 0.1: only 0.05 goes.
        Probs(new SamplingOptions { MinP = 0.2 }).Should().Equal([0.5f / 0.95f, 0.3f / 0.95f, 0.15f / 0.95f, 0f], (a, b) => Math.Abs(a - b) < 1e-6);
    }

    [Fact]
    public void Top_p_keeps_the_smallest_set_reaching_p()
    {
        // 0.5 < 0.75 <= 0.5 + 0.3: two tokens are needed.
        Probs(new SamplingOptions { TopP = 0.75 }).Should().Equal([0.625f, 0.375f, 0f, 0f], (a, b) => Math.Abs(a - b) < 1e-6);
        // 0.8 < 0.9 <= 0.95: three tokens.
        Probs(new SamplingOptions { TopP = 0.9 }).Should().Equal([0.5f / 0.95f, 0.3f / 0.95f, 0.15f / 0.95f, 0f], (a, b) => Math.Abs(a - b) < 1e-6);
        // The top token alone already exceeds a small p.
        Probs(new SamplingOptions { TopP = 0.1 }).Should().Equal([1f, 0f, 0f, 0f]);
    }

    [Fact]
    public void Temperature_towards_zero_approaches_greedy_and_higher_flattens()
    {
        double Entropy(double t) { var p = Probs(new SamplingOptions { Temperature = t }); return -p.Where(x => x > 0).Sum(x => x * Math.Log(x)); }
        var temps = new[] { 0.05, 0.5, 1.0, 2.0, 5.0 };
        var h = temps.Select(Entropy).ToArray();
        h.Should().BeInAscendingOrder();
        Probs(new SamplingOptions { Temperature = 0.05 })[0].Should().BeGreaterThan(0.9999f, "at T = 0.05 the others hold about (0.3/0.5)^20 of the mass");
        Probs(new SamplingOptions { Temperature = 1.0 }).Should().Equal([0.5f, 0.3f, 0.15f, 0.05f], (a, b) => Math.Abs(a - b) < 1e-6);

        using var cold = new Sampler(new SamplingOptions { Temperature = 0.01, Seed = 1 });
        var logits = Logits().expand(64, 4);
        cold.Next(logits).data<long>().ToArray().Should().AllBeEquivalentTo(0L);
    }

    [Fact]
    public void Repetition_penalty_divides_positive_and_multiplies_negative_seen_logits()
    {
        var logits = torch.tensor(new[] { 2f, -1f, 1f, 0.5f }).unsqueeze(0);
        var seen = torch.tensor(new[] { true, true, false, false }).unsqueeze(0);
        using var s = new Sampler(new SamplingOptions { RepetitionPenalty = 2.0 });
        s.Filter(logits, seen).squeeze(0).data<float>().ToArray().Should().Equal(1f, -2f, 1f, 0.5f);

        var before = torch.softmax(logits, -1);
        var after = s.Probabilities(logits, seen);
        (after[0, 0].item<float>() < before[0, 0].item<float>()).Should().BeTrue();
        (after[0, 1].item<float>() < before[0, 1].item<float>()).Should().BeTrue();
        (after[0, 2].item<float>() > before[0, 2].item<float>()).Should().BeTrue("unseen tokens gain the mass the seen ones lose");
    }

    [Fact]
    public void Draw_frequencies_follow_the_filtered_distribution()
    {
        using var s = new Sampler(new SamplingOptions { TopK = 2, Seed = 11 });
        var ids = s.Next(Logits().expand(20000, 4).contiguous()).data<long>().ToArray();
        ids.Should().OnlyContain(i => i == 0 || i == 1);
        (ids.Count(i => i == 0) / 20000.0).Should().BeApproximately(0.625, 0.015);
    }

    [Fact]
    public void Seed_makes_draws_reproducible_and_leaves_the_global_rng_alone()
    {
        var logits = torch.zeros(1, 1000);
        long[] Draw(long seed) { using var s = new Sampler(new SamplingOptions { Seed = seed }); return Enumerable.Range(0, 20).Select(_ => s.Next(logits).item<long>()).ToArray(); }
        Draw(42).Should().Equal(Draw(42));
        Draw(42).Should().NotEqual(Draw(43));

        torch.manual_seed(5); var expected = torch.rand(8).data<float>().ToArray();
        torch.manual_seed(5); Draw(42); var got = torch.rand(8).data<float>().ToArray();
        got.Should().Equal(expected);
    }

    [Fact]
    public void Impossible_options_are_rejected_with_every_problem_named()
    {
        var act = () => new Sampler(new SamplingOptions { Temperature = -1, TopP = 0, TopK = -2, MinP = 2, RepetitionPenalty = 0, MaxNewTokens = -1 });
        act.Should().Throw<ArgumentException>().WithMessage("*temperature*top_k*top_p*min_p*repetition_penalty*max_new_tokens*");
    }
}

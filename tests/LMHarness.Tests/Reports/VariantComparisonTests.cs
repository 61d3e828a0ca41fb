using LMHarness.Reports;

namespace LMHarness.Tests.Reports;

public sealed class VariantComparisonTests
{
    static IEnumerable<RunRow> Runs(string variant, double[] finals, double[]? bpb = null, string? tokenizer = null) =>
        finals.Select((v, k) => new RunRow(variant, k, v, v, 1000, 10, 100, 1000, 400, $"/runs/{variant}/seed{k}",
            FinalValBpb: bpb?[k], Tokenizer: tokenizer));

    [Fact]
    public void Overlapping_variants_are_not_resolved_and_the_headline_estimates_the_seeds_needed()
    {
        // The Welch example of StatisticsTests: a = {3, 5, 7}, b = {1, 2, 3}: a - b = 3, 95% CI [-1.1554, 7.1554],
        // p = 0.1045. Pooled std √((2·4 + 2·1)/4) = √2.5 = 1.5811, effect 3/1.5811 = 1.897: n = 5 gives ν = 8,
        // δ = 1.897 √2.5 = 3.0 against t_c = 2.306, power ≈ 0.72; n = 6 gives ν = 10, δ = 3.29 against 2.228, ≈ 0.82.
        var rows = Runs("a", [3, 5, 7]).Concat(Runs("b", [1, 2, 3])).ToList();
        var c = VariantComparison.Of(rows);
        c.Metric.Should().Be(VariantComparison.ValLoss);
        c.Baseline.Should().Be("a");
        c.Winner.Should().BeNull();
        c.Variants.Select(v => (v.Variant, v.Stats.N, v.Stats.Mean)).Should().Equal(("a", 3, 5.0), ("b", 3, 2.0));
        var needed = PowerAnalysis.SeedsPerVariant(3, Math.Sqrt(2.5));
        needed.Should().Be(6);
        c.Headline.Should().Be(
            "Not resolved with 3 seeds each: final val loss (nats/token) b 2.0000 vs a 5.0000, a gap of 3.0000 (95% CI [-1.1554, 7.1554], Welch p = 0.104). " +
            $"A true gap of 3.0000 would need about {needed} seeds per variant to resolve (two-sample t-test, α = 0.05, power 0.8, pooled std 1.5811).");
        var d = c.VsBaseline.Single();
        d.Variant.Should().Be("b");
        d.Difference.Should().Be(-3);
        d.Test!.P.Should().BeApproximately(0.1044788867, 1e-8);
        d.SeedsToResolve.Should().Be(needed);
    }

    [Fact]
    public void A_resolved_lead_names_the_winner_and_a_named_baseline_is_the_reference()
    {
        // gqa = {1.50, 1.51, 1.52, 1.53}, mha = {1.53, 1.54, 1.55, 1.56}: mha - gqa = 0.03, ν = 6, p = 0.0167 (StatisticsTests).
        var rows = Runs("mha", [1.53, 1.54, 1.55, 1.56]).Concat(Runs("gqa", [1.50, 1.51, 1.52, 1.53])).ToList();
        var c = VariantComparison.Of(rows, baseline: "gqa");
        c.Winner.Should().Be("gqa");
        c.Baseline.Should().Be("gqa");
        c.Headline.Should().StartWith("gqa has the lowest final val loss (nats/token): 1.5150 (95% CI [1.4945, 1.5355], n = 4); the runner-up mha is higher by 0.0300 (95% CI [0.0077, 0.0523], Welch p = 0.017), with 4 seeds each.");
        var d = c.VsBaseline.Single();
        d.Variant.Should().Be("mha");
        d.Difference.Should().BeApproximately(0.03, 1e-12);
        d.Test!.Resolved.Should().BeTrue();

        FluentActions.Invoking(() => VariantComparison.Of(rows, baseline: "mqa"))
            .Should().Throw<ArgumentException>().WithMessage("baseline 'mqa' is not among the variants with results (mha, gqa).");
    }

    [Fact]
    public void One_seed_per_variant_gives_means_but_no_interval_and_no_winner()
    {
        var c = VariantComparison.Of([.. Runs("mha", [2.0832]), .. Runs("gqa2", [2.0945])]);
        c.Winner.Should().BeNull();
        c.Headline.Should().Be("Not resolved: final val loss (nats/token) mha 2.0832 vs gqa2 2.0945, but with 1 seed each there is no spread to estimate, so no interval and no winner. Run 3 or more seeds per variant.");
        c.VsBaseline.Single().Should().Be(new BaselineDifference("gqa2", 2.0945 - 2.0832, null, null));
        c.Variants[0].Stats.CiLow.Should().BeNull();
        var md = ComparisonTables.Markdown([.. Runs("mha", [2.0832]), .. Runs("gqa2", [2.0945])], c);
        md.Should().Contain("| mha | 1 | 2.0832 | - | n = 1: no interval |");
        md.Should().Contain("| gqa2 | +0.0113 | - | - | needs 2+ seeds with spread |");

        VariantComparison.Of([.. Runs("mha", [2.08, 2.09, 2.07]), .. Runs("gqa2", [2.0945])]).Headline.Should().Be(
            "Not resolved: final val loss (nats/token) mha 2.0800 vs gqa2 2.0945, but gqa2 has only 1 seed, so the difference has no interval and there is no winner. Run 3 or more seeds per variant.");
    }

    [Fact]
    public void Mixed_tokenizers_rank_by_bits_per_byte_only_and_say_so()
    {
        // Char runs: 1.50 nats/token but 2.16 bits/byte; GPT-2 runs: 4.0 nats/token (a token holds ~4 bytes) but 1.44 bits/byte.
        // By loss char would "win"; by bits per byte GPT-2 does.
        var rows = Runs("char", [1.50, 1.51, 1.49], [2.164, 2.178, 2.150], "char (65 ids, table 0a1b2c3d)")
            .Concat(Runs("gpt2", [4.00, 4.02, 3.98], [1.443, 1.450, 1.436], "gpt2 (50257 ids)")).ToList();
        var c = VariantComparison.Of(rows);
        c.Metric.Should().Be(VariantComparison.ValBpb);
        c.Note.Should().Be("The runs use 2 tokenizers (char (65 ids, table 0a1b2c3d); gpt2 (50257 ids)): ranked by bits per byte only, since nats per token mean different things under different tokenizers (and equal token counts are unequal amounts of text).");
        c.Winner.Should().Be("gpt2");
        c.Variants.Single(v => v.Variant == "gpt2").Stats.Mean.Should().BeApproximately(1.443, 1e-12);
        c.Headline.Should().StartWith("gpt2 has the lowest final val bits per byte: 1.4430");

        var old = rows.Select((r, i) => i == 4 ? r with { FinalValBpb = null } : r).ToList();
        var none = VariantComparison.Of(old);
        none.Winner.Should().BeNull();
        none.Variants.Should().BeEmpty();
        none.Headline.Should().Be("No ranking: the runs use different tokenizers and /runs/gpt2/seed1 has no val_bpb, so there is no unit they share. Re-evaluate the runs with bits per byte.");
    }

    [Fact]
    public void Unequal_training_tokens_are_pointed_out()
    {
        var rows = Runs("a", [2.0, 2.1]).Concat(Runs("b", [2.2, 2.3]).Select(r => r with { Tokens = 600 })).ToList();
        VariantComparison.Of(rows).Note.Should().Be("The runs trained on different numbers of tokens (600 to 1,000): their final values compare unequal training.");
        VariantComparison.Of(Runs("a", [2.0, 2.1]).ToList()).Note.Should().BeNull();
    }

    [Fact]
    public void Identical_seeds_have_no_spread_to_test()
    {
        var c = VariantComparison.Of([.. Runs("a", [2.0, 2.0]), .. Runs("b", [2.1, 2.1])]);
        c.Winner.Should().BeNull();
        c.Headline.Should().Contain("every seed gave the same value, so there is no spread to test");
    }
}

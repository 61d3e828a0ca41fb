using LMHarness.Config;
using LMHarness.Summary;
using LMHarness.Tests.Model;

namespace LMHarness.Tests.Summary;

public class ModelSummaryTests
{
    public static IEnumerable<object[]> Combinations() =>
        from a in Enum.GetValues<AttentionKind>()
        from p in Enum.GetValues<PositionKind>()
        from f in Enum.GetValues<FeedForwardKind>()
        from n in Enum.GetValues<NormKind>()
        from bias in new[] { false, true }
        select new object[] { a, p, f, n, bias };

    [Theory]
    [MemberData(nameof(Combinations))]
    public void Closed_form_counts_equal_the_built_model(AttentionKind a, PositionKind p, FeedForwardKind f, NormKind n, bool bias) =>
        CountsMatch(Tiny.Config(a, p, f, n, bias: bias));

    public static IEnumerable<object[]> Options() =>
        from o in Tiny.Options
        from a in Enum.GetValues<AttentionKind>()
        select new object[] { o, a };

    [Theory]
    [MemberData(nameof(Options))]
    public void Closed_form_counts_equal_the_built_model_for_every_speedrun_option(string option, AttentionKind a) =>
        CountsMatch(Tiny.With(Tiny.Config(a, PositionKind.Rope) with { TieEmbeddings = false }, option));

    /// <summary>Total and per-row counts equal the model's; a parameter counts in the most specific row whose name prefixes it.</summary>
    static void CountsMatch(ModelConfig config)
    {
        using var model = Tiny.Build(config);
        var summary = ModelSummary.Of(model);
        summary.TotalParameters.Should().Be(model.parameters().Sum(x => x.numel()));
        var byName = model.named_parameters().ToList();
        string? RowOf(string name) => summary.Modules.Select(r => r.Name).Where(r => name.StartsWith(r + ".")).MaxBy(r => r.Length);
        foreach (var row in summary.Modules.Where(r => r.Parameters > 0))
            row.Parameters.Should().Be(byName.Where(x => RowOf(x.name) == row.Name).Sum(x => x.parameter.numel()), row.Name);
    }

    [Fact]
    public void Speedrun_options_add_their_parameters_in_closed_form()
    {
        var nano = Presets.Get("nanogpt-cpu");
        var s = ModelSummary.Of(nano with
        {
            QkNorm = true, FeedForwardKinds = [FeedForwardKind.Relu2], ValueEmbeddings = true, SkipConnections = true, LogitSoftcap = 15, ZeroInitOutputs = true,
        });
        long qkNorm = 4 * 2 * 32, valueEmbeddings = 4 * 65 * 128, skips = 2;  // 4 layers, head_dim 32, vocab 65, d 128
        s.TotalParameters.Should().Be(804_096 + qkNorm + valueEmbeddings + skips);
        s.EmbeddingParameters.Should().Be(65 * 128 + 64 * 128 + valueEmbeddings, "value embeddings are looked up, like the token embedding");
        s.FlopsPerToken(64).Should().Be(6.0 * (804_096 + qkNorm + skips - 64 * 128) + 12.0 * 4 * 128 * 64);
        s.ToTable().Should().Contain("model.layers.3.self_attn.value_embed (ValueEmbedding)").And.Contain("model.skip_weights (UNetSkips)")
            .And.Contain("model.layers.0.mlp (Relu2)");
    }

    [Fact]
    public void Embedding_and_non_embedding_counts_split_the_total_and_tied_counts_once()
    {
        var nano = Presets.Get("nanogpt-cpu");
        var s = ModelSummary.Of(nano);
        s.EmbeddingParameters.Should().Be(65 * 128 + 64 * 128);
        s.NonEmbeddingParameters.Should().Be(804_096 - 65 * 128 - 64 * 128);
        var untied = ModelSummary.Of(nano with { TieEmbeddings = false });
        untied.TotalParameters.Should().Be(s.TotalParameters + 65 * 128);
        untied.EmbeddingParameters.Should().Be(s.EmbeddingParameters + 65 * 128);
    }

    [Fact]
    public void FLOPs_per_token_are_6N_plus_12_L_d_T()
    {
        var nano = Presets.Get("nanogpt-cpu");
        // N excludes the position table (a lookup) but includes the tied embedding (the head's matmul).
        long n = 804_096 - 64 * 128;
        ModelSummary.Of(nano).FlopsPerToken(64).Should().Be(6.0 * n + 12.0 * 4 * 128 * 64);
        ModelSummary.Of(nano).FlopsPerToken().Should().Be(6.0 * n + 12.0 * 4 * 128 * 64);
        var llama = Presets.Get("llama3-220M");
        ModelSummary.Of(llama).FlopsPerToken(1024).Should().Be(6.0 * 221_406_208 + 12.0 * 12 * 1024 * 1024);
        // Untied: the token table is a lookup and lm_head (the same size) the matmul, so N is unchanged.
        var untied = nano with { TieEmbeddings = false };
        ModelSummary.Of(untied).TotalParameters.Should().Be(804_096 + 65 * 128);
        ModelSummary.Of(untied).FlopsPerToken(64).Should().Be(6.0 * n + 12.0 * 4 * 128 * 64);
    }

    [Fact]
    public void Memory_estimate_counts_weights_grads_AdamW_and_activations()
    {
        var nano = Presets.Get("nanogpt-cpu");
        var s = ModelSummary.Of(nano);
        var m = s.Memory(12, 64);
        m.WeightBytes.Should().Be(4 * 804_096);
        m.GradientBytes.Should().Be(4 * 804_096);
        m.OptimizerBytes.Should().Be(8 * 804_096);
        // Per token: 4 layers x (9 d + 2 d + 2 H T + 2 d + 2 f) + 2 V + 2 d values of 4 bytes, d 128, H 4, T 64, f 512, V 65.
        long perToken = 4 * (9 * 128 + 2 * 128 + 2 * 4 * 64 + 2 * 128 + 2 * 512) + 2 * 65 + 2 * 128;
        m.ActivationBytes.Should().Be(12L * 64 * perToken * 4);
        m.TotalBytes.Should().Be(m.WeightBytes + m.GradientBytes + m.OptimizerBytes + m.ActivationBytes);
        s.Memory(24, 64).ActivationBytes.Should().Be(2 * m.ActivationBytes);
        ModelSummary.Of(nano with { RecomputeActivations = true }).Memory(12, 64).ActivationBytes.Should().BeLessThan(m.ActivationBytes / 2);
    }

    [Fact]
    public void Batch_suggestion_fits_the_budget_and_reaches_the_target()
    {
        var s = ModelSummary.Of(Presets.Get("gpt2-124M"));
        long budget = 8L << 30;
        var b = s.SuggestBatch(budget, 524_288, 1024);
        b.Memory.TotalBytes.Should().BeLessThanOrEqualTo(budget);
        s.Memory(b.MicroBatch + 1, 1024).TotalBytes.Should().BeGreaterThan(budget, "the largest micro-batch that fits");
        b.TokensPerStep.Should().Be(524_288);
        ((long)b.MicroBatch * b.GradAccumulation * 1024).Should().Be(524_288);

        // At 8 GiB about two 1024-token GPT-2 sequences fit (activations ~2.3 GiB each): 8 sequences take 4 micro-batches of 2.
        var small = s.SuggestBatch(budget, 8 * 1024, 1024);
        (small.MicroBatch, small.GradAccumulation).Should().Be((2, 4));
        // With room for all of them, no accumulation; a target that is not a multiple of the context rounds up.
        var roomy = s.SuggestBatch(64L << 30, 8 * 1024 - 100, 1024);
        (roomy.MicroBatch, roomy.GradAccumulation, roomy.TokensPerStep).Should().Be((8, 1, 8 * 1024));

        FluentActions.Invoking(() => s.SuggestBatch(1L << 30, 524_288, 1024)).Should().Throw<ArgumentException>()
            .WithMessage("*budget*recompute_activations*");
    }

    [Fact]
    public void Table_lists_every_module_and_the_totals()
    {
        var table = ModelSummary.Of(Presets.Get("nanogpt-cpu"), 12, 64).ToTable();
        table.Should().Contain("model.embed_tokens (TokenEmbedding)").And.Contain("[12, 64, 128]")
            .And.Contain("model.layers.3.mlp (Mlp)").And.Contain("model.layers.0.self_attn (MultiHeadAttention)").And.Contain("Total params: 804,096")
            .And.Contain("weights 3.07 MiB")
            .And.Contain("lm_head (tied to embed_tokens)").And.Contain("[12, 64, 65]");
    }
}

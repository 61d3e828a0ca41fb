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
    public void FLOPs_per_token_leave_out_what_backward_skips_for_frozen_parameters()
    {
        var nano = Presets.Get("nanogpt-cpu"); // tied, learned positions, LayerNorm without bias: L 4, d 128, V 65
        long d = 128, T = 64, v = 65, n = 804_096 - 64 * 128, norm = d;
        nano.Bias.Should().BeFalse();
        long layer = ModelSummary.AttentionParameters(nano, 0) + ModelSummary.FeedForwardParameters(nano, 0) + 2 * norm;
        (4 * layer + norm + v * d).Should().Be(n, "the multiplied parameters: 4 blocks, the final norm, the tied head");
        var s = ModelSummary.Of(nano);
        s.FlopsPerToken(64, null).Should().Be(s.FlopsPerToken(64));
        s.FlopsPerToken(64, []).Should().Be(s.FlopsPerToken(64));

        // The position table below everything trains, so every input gradient is still needed: only the frozen weights' own go.
        s.FlopsPerToken(64, ["model.embed_tokens", "model.layers.0-1"]).Should().Be(6.0 * n - 2.0 * (2 * layer + v * d) + 12.0 * 4 * d * T);

        // Embeddings and blocks 0-1 frozen: forward everywhere; blocks 2-3 and the final norm get their own gradients; input
        // gradients from block 2's first norm on (not for it), the frozen head's included; attention's backward in blocks 2-3.
        s.FlopsPerToken(64, ["model.embed_tokens", "model.embed_positions", "model.layers.0-1"]).Should().Be(
            2.0 * n + 4.0 * 4 * d * T + 2.0 * (2 * layer + norm) + 2.0 * (2 * layer - norm + norm + v * d) + 8.0 * 2 * d * T);

        // Untied, everything but lm_head frozen: the head's forward and its own gradient, nothing else in backward.
        var untied = ModelSummary.Of(nano with { TieEmbeddings = false });
        untied.FlopsPerToken(64, ["model.embed_tokens", "model.embed_positions", "model.layers", "model.norm"]).Should().Be(2.0 * n + 4.0 * 4 * d * T + 2.0 * v * d);
    }

    [Fact]
    public void Table_lists_every_module_and_the_totals()
    {
        var table = ModelSummary.Of(Presets.Get("nanogpt-cpu"), 12, 64).ToTable();
        table.Should().Contain("model.embed_tokens (TokenEmbedding)").And.Contain("[12, 64, 128]")
            .And.Contain("model.layers.3.mlp (Mlp)").And.Contain("model.layers.0.self_attn (MultiHeadAttention)").And.Contain("Total params: 804,096")
            .And.Contain("Training memory at batch 12 x context 64 (fp32, AdamW): planned peak ")
            .And.Contain("lm_head (tied to embed_tokens)").And.Contain("[12, 64, 65]");
    }
}

using LMHarness.Analysis;
using LMHarness.Generation;
using LMHarness.Tests.Generation;
using LMHarness.Tokenizers;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;
using LMHarness.Plots;

namespace LMHarness.Tests.Analysis;

public class AnalysisTests : IDisposable
{
    static readonly ITokenizer Bytes = new ByteTokenizer();
    readonly string dir = Directory.CreateTempSubdirectory("lmh-an-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Hidden_states_are_one_per_depth_and_the_last_gives_the_logits()
    {
        var model = TinyModels.Build(TinyModels.Gpt2, 20);
        var idx = torch.tensor(Bytes.Encode("hidden states").Select(x => (long)x).ToArray()).unsqueeze(0);
        var states = HiddenStates.Compute(model, idx);
        states.Should().HaveCount(3);
        states.Should().OnlyContain(s => s.shape.SequenceEqual(new long[] { 1, idx.shape[1], 32 }));
        using var _ = torch.no_grad();
        var logits = nn.functional.linear(model.Body.FinalNorm.forward(states[^1]), model.TokenEmbedding);
        (logits - model.forward(idx)).abs().max().item<float>().Should().BeLessThan(1e-5f);
    }

    [Fact]
    public void Perplexity_is_exp_of_the_model_loss_over_windows()
    {
        var model = TinyModels.Build(TinyModels.Llama with { ContextLength = 16 }, 21);
        var text = "It is a truth universally acknowledged, that a single man in possession";   // 71 bytes: windows of 17, 17, 17, 17, 7
        var ids = Bytes.Encode(text).Select(x => (long)x).ToArray();
        double sum = 0; long n = 0;
        using (torch.no_grad())
            for (int s = 0; s < ids.Length - 1; s += 16)
            {
                var w = ids[s..Math.Min(ids.Length, s + 17)];
                var x = torch.tensor(w[..^1]).unsqueeze(0); var y = torch.tensor(w[1..]).unsqueeze(0);
                sum += model.Loss(x, y).item<float>() * (w.Length - 1); n += w.Length - 1;
            }
        var r = Perplexity.OfText(model, Bytes, text, 3);
        r.Tokens.Should().Be(ids.Length - 1).And.Be(n);
        r.MeanNll.Should().BeApproximately(sum / n, 1e-5);
        r.Perplexity.Should().BeApproximately(Math.Exp(sum / n), 1e-3);

        var path = Path.Combine(dir, "t.txt");
        File.WriteAllText(path, text);
        Perplexity.OfFile(model, Bytes, path).MeanNll.Should().BeApproximately(r.MeanNll, 1e-5, "batching windows differently only reorders float sums");
        File.WriteAllText(path, "");
        var empty = () => Perplexity.OfFile(model, Bytes, path);
        empty.Should().Throw<InvalidDataException>().WithMessage("*empty*");
    }

    [Fact]
    public void Per_token_losses_average_to_the_model_loss()
    {
        var model = TinyModels.Build(TinyModels.Llama, 22);
        var prompt = "To be, or not to be";
        var losses = Perplexity.PerToken(model, Bytes, prompt);
        losses.Should().HaveCount(prompt.Length - 1);
        losses[0].Position.Should().Be(1);
        losses[0].Text.Should().Be("o");
        var ids = Bytes.Encode(prompt).Select(x => (long)x).ToArray();
        using var _ = torch.no_grad();
        var loss = model.Loss(torch.tensor(ids[..^1]).unsqueeze(0), torch.tensor(ids[1..]).unsqueeze(0)).item<float>();
        losses.Average(l => l.Loss).Should().BeApproximately(loss, 1e-5);
        losses.Should().OnlyContain(l => l.Loss > 0);
    }

    [Fact]
    public void Trajectory_projects_each_depth_and_the_png_is_a_grid_of_pc_pairs()
    {
        var model = TinyModels.Build(TinyModels.Llama, 23);
        var gen = new LMHarness.Generation.Generator(model, Bytes);
        var prompt = Bytes.Encode("First Citizen: ");
        var cont = gen.GenerateIds([prompt], SamplingOptions.Greedy with { MaxNewTokens = 20 }, true, null)[0].Tokens;
        var panels = Trajectory.Compute(model, Bytes, prompt, cont);
        panels.Should().HaveCount(3);
        panels.Select(p => p.Name).Should().Equal("token embeddings", "after layer 0", "after layer 1");
        foreach (var p in panels)
        {
            p.Points.Should().HaveCount(prompt.Length + cont.Count);
            p.Points.Count(x => x.IsPrompt).Should().Be(prompt.Length);
            p.Points[0].Token.Should().Be("F");
            p.ExplainedVarianceRatio.Should().HaveCount(3).And.BeInDescendingOrder();
            // The first coordinate is centred: the PCA was fitted on this sequence.
            p.Points.Average(x => x.Coordinates[0]).Should().BeApproximately(0, 1e-6);
        }

        var png = TrajectoryPlot.Save(panels, Path.Combine(dir, "trajectory.png"));
        using var bmp = SKBitmap.Decode(png);
        bmp.Width.Should().Be(2 * TrajectoryPlot.PanelWidth);
        bmp.Height.Should().Be(3 * TrajectoryPlot.PanelHeight);
        File.Exists(png + ".tmp").Should().BeFalse();
        if (Environment.GetEnvironmentVariable("LMHARNESS_KEEP_PNG") is { Length: > 0 } keep) File.Copy(png, keep, true);
    }

    [Fact]
    public void Many_layers_are_thinned_to_first_last_and_evenly_between()
    {
        var panels = Enumerable.Range(0, 31).Select(i => new TrajectoryPanel($"p{i}", [], [0.5, 0.3, 0.2])).ToList();
        TrajectoryPlot.Select(panels).Select(p => p.Name).Should().Equal("p0", "p6", "p12", "p18", "p24", "p30");
    }

    [Fact]
    public void Trajectory_axes_have_margins_and_labels_neither_overlap_nor_leave_the_plot()
    {
        TrajectoryPlot.Range([0.0, 10.0]).Should().Be((-0.8, 10.8));
        TrajectoryPlot.Range([3.0, 3.0]).Should().Be((2.0, 4.0));

        // A token repeated at one spot (identical embeddings) gets one label with its count, not three on top of each other.
        var pts = new List<TrajectoryPoint>
        {
            new(0, "a", true, [0.0, 0.0]), new(1, "b", true, [1.0, 1.0]), new(2, "a", false, [0.0, 0.0]), new(3, "a", false, [0.0, 0.0]),
        };
        var labels = TrajectoryPlot.PlaceLabels(pts, 0, 1, TrajectoryPlot.Range([0.0, 1.0]), TrajectoryPlot.Range([0.0, 1.0]));
        labels.Select(l => l.Text).Should().Equal("a ×3", "b");

        // 60 tokens crowded into a small cluster plus a point at the frame's corner: fewer labels than points, none
        // overlapping another, all inside the plot area (the corner point's label turns inward).
        var crowd = Enumerable.Range(0, 60).Select(i => new TrajectoryPoint(i, $"tok{i}", i < 30, [Math.Cos(i) * 0.05, Math.Sin(i) * 0.05]))
            .Append(new TrajectoryPoint(60, "edge-of-the-frame", false, [1.0, 1.0])).ToList();
        var xr = TrajectoryPlot.Range(crowd.Select(p => p.Coordinates[0]));
        var yr = TrajectoryPlot.Range(crowd.Select(p => p.Coordinates[1]));
        var placed = TrajectoryPlot.PlaceLabels(crowd, 0, 1, xr, yr);
        placed.Count.Should().BeInRange(4, 59);
        placed.Should().Contain(l => l.Text == "edge-of-the-frame");
        for (int i = 0; i < placed.Count; i++)
            for (int j = i + 1; j < placed.Count; j++)
            {
                var (p, q) = (placed[i], placed[j]);
                bool overlap = p.Left < q.Left + q.Width && q.Left < p.Left + p.Width && p.Top < q.Top + q.Height && q.Top < p.Top + p.Height;
                overlap.Should().BeFalse($"'{p.Text}' and '{q.Text}' must not overlap");
            }
        placed.Should().OnlyContain(l => l.Left >= 0 && l.Top >= 0);
        var edge = placed.Single(l => l.Text == "edge-of-the-frame");
        edge.Align.Should().Be(OxyPlot.HorizontalAlignment.Right, "a label right of a point near the right edge would leave the plot");
    }
}

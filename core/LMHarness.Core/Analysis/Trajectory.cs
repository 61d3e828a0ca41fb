using LMHarness.Model;
using LMHarness.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Analysis;

/// <summary>One token on a trajectory: its position, text, whether it was prompt or continuation, and its PC coordinates.</summary>
public sealed record TrajectoryPoint(int Position, string Token, bool IsPrompt, double[] Coordinates);

/// <summary>One representation (token embeddings, or the residual stream after a layer) projected on its own principal components.</summary>
public sealed record TrajectoryPanel(string Name, IReadOnlyList<TrajectoryPoint> Points, double[] ExplainedVarianceRatio);

/// <summary>
/// "Language as a signal": a text is a path through representation space, one point per token. Each representation
/// of the sequence (the token-embedding rows E[x_t], then the residual stream h_i after every block, see
/// <see cref="HiddenStates"/>) is reduced to its first principal components (<see cref="Pca"/>), fitted on that
/// sequence's own vectors, so the panels show how the path of prompt and continuation is shaped at each depth.
/// </summary>
public static class Trajectory
{
    /// <summary>Panels for the token embeddings and the hidden state after each layer (n_layer + 1 panels).</summary>
    public static IReadOnlyList<TrajectoryPanel> Compute(CausalLM model, ITokenizer tokenizer, IReadOnlyList<int> prompt, IReadOnlyList<int> continuation, int components)
    {
        var ids = prompt.Concat(continuation).ToArray();
        if (ids.Length < components + 1)
            throw new ArgumentException($"{ids.Length} tokens are too few for {components} principal components: generate more tokens (at least {components + 1} in all)");
        if (ids.Length > model.Config.ContextLength)
            throw new ArgumentException($"{ids.Length} tokens exceed the model's context_length {model.Config.ContextLength}: shorten the prompt or the continuation");
        var labels = ids.Select(i => tokenizer.Decode([i])).ToArray();
        var device = model.parameters().First().device;
        using var scope = torch.NewDisposeScope();
        var idx = torch.tensor(ids.Select(x => (long)x).ToArray(), [1, ids.Length], device: device);
        var panels = new List<TrajectoryPanel>();
        using (torch.no_grad())
            panels.Add(Panel("token embeddings", model.TokenEmbedding.detach().index_select(0, idx[0]), labels, prompt.Count, components));
        var states = HiddenStates.Compute(model, idx);
        for (int i = 1; i < states.Count; i++)
            panels.Add(Panel($"after layer {i - 1}", states[i][0], labels, prompt.Count, components));
        return panels;
    }

    /// <summary>Plain overload with 3 components (PC1-PC2 and PC2-PC3 views).</summary>
    public static IReadOnlyList<TrajectoryPanel> Compute(CausalLM model, ITokenizer tokenizer, IReadOnlyList<int> prompt, IReadOnlyList<int> continuation) =>
        Compute(model, tokenizer, prompt, continuation, 3);

    static TrajectoryPanel Panel(string name, Tensor vectors, string[] labels, int promptLength, int components)
    {
        using var pca = Pca.Fit(vectors, components);
        var z = pca.Transform(vectors).data<double>().ToArray();
        var points = labels.Select((label, t) => new TrajectoryPoint(t, label, t < promptLength, z[(t * components)..((t + 1) * components)])).ToList();
        return new TrajectoryPanel(name, points, pca.ExplainedVarianceRatio);
    }
}

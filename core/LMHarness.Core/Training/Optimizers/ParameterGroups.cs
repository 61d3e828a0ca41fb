using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LMHarness.Training.Optimizers;

/// <summary>
/// Splits a model's trainable parameters the way GPT-2/nanoGPT does: weight decay on tensors with >= 2 dimensions
/// (matmul weights, embeddings), none on 1-D tensors (norm gains, biases), because shrinking a gain or a bias
/// towards zero does not regularise capacity. <see cref="Hidden"/> further names the 2-D weights inside the
/// transformer blocks (everything but embeddings and the head), which Muon orthogonalises.
/// </summary>
public sealed record ParameterGroups(
    IReadOnlyList<(string Name, Parameter Param)> Decay,
    IReadOnlyList<(string Name, Parameter Param)> NoDecay)
{
    public static ParameterGroups Split(nn.Module model)
    {
        var decay = new List<(string, Parameter)>();
        var noDecay = new List<(string, Parameter)>();
        foreach (var (name, p) in model.named_parameters())
        {
            if (!p.requires_grad) continue;
            (p.dim() >= 2 ? decay : noDecay).Add((name, p));
        }
        return new ParameterGroups(decay, noDecay);
    }

    /// <summary>2-D weights of the hidden layers: not an embedding table and not the LM head.</summary>
    public IReadOnlyList<(string Name, Parameter Param)> Hidden =>
        Decay.Where(x => x.Param.dim() == 2 && !IsEmbeddingOrHead(x.Name)).ToList();

    /// <summary>Everything <see cref="Hidden"/> leaves out, still split by decay.</summary>
    public ParameterGroups WithoutHidden()
    {
        var hidden = Hidden.Select(h => h.Name).ToHashSet();
        return new ParameterGroups(Decay.Where(x => !hidden.Contains(x.Name)).ToList(), NoDecay);
    }

    static bool IsEmbeddingOrHead(string name) =>
        name.Contains("embed") || name.StartsWith("lm_head", StringComparison.Ordinal) || name.Contains("wte") || name.Contains("wpe");
}

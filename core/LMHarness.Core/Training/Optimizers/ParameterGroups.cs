using LMHarness.Config;
using LMHarness.Model;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LMHarness.Training.Optimizers;

/// <summary>
/// Splits a model's trainable parameters the way GPT-2/nanoGPT does: weight decay on tensors with >= 2 dimensions
/// (matmul weights, embeddings), none on 1-D tensors (norm gains, biases), because shrinking a gain or a bias
/// towards zero does not regularise capacity. <see cref="Hidden"/> further names the 2-D weights inside the
/// transformer blocks (everything but embeddings and the head), which Muon orthogonalises; <see cref="RoleOf"/>
/// tells embeddings, head, matrices and scalars apart for per-group learning rates.
/// <para><see cref="LearningRateMultipliers"/> carries μP's per-parameter factor on the Adam learning rate (1/m on hidden
/// matrices, <see cref="MupScaling"/>); <see cref="Split"/> fills it for a μP <see cref="CausalLM"/> away from its base width.</para>
/// </summary>
public sealed record ParameterGroups(
    IReadOnlyList<(string Name, Parameter Param)> Decay,
    IReadOnlyList<(string Name, Parameter Param)> NoDecay)
{
    /// <summary>Factor on the learning rate per parameter name; a name not listed has factor 1.</summary>
    public IReadOnlyDictionary<string, double> LearningRateMultipliers { get; init; } = new Dictionary<string, double>();

    /// <summary>The factor on <paramref name="name"/>'s learning rate (<see cref="LearningRateMultipliers"/>; 1 when unlisted).</summary>
    public double MultiplierOf(string name) => LearningRateMultipliers.TryGetValue(name, out var f) ? f : 1.0;

    /// <summary>The peak learning rate of one parameter: its role's rate times its multiplier.</summary>
    public double LearningRateOf(string name, Parameter p, GroupLearningRates lrs) => lrs.For(RoleOf(name, p)) * MultiplierOf(name);

    public static ParameterGroups Split(nn.Module model)
    {
        var decay = new List<(string, Parameter)>();
        var noDecay = new List<(string, Parameter)>();
        foreach (var (name, p) in model.named_parameters())
        {
            if (!p.requires_grad) continue;
            (p.dim() >= 2 ? decay : noDecay).Add((name, p));
        }
        var multipliers = new Dictionary<string, double>();
        if (model is CausalLM { Config: var config } && config.Parametrization == Parametrization.Mup)
            foreach (var (name, _) in decay.Concat(noDecay))
                if (MupScaling.LearningRateMultiplier(config, name) is var f && f != 1.0) multipliers[name] = f;
        return new ParameterGroups(decay, noDecay) { LearningRateMultipliers = multipliers };
    }

    /// <summary>2-D weights of the hidden layers: not an embedding table and not the LM head.</summary>
    public IReadOnlyList<(string Name, Parameter Param)> Hidden =>
        Decay.Where(x => RoleOf(x.Name, x.Param) == ParameterRole.Matrix).ToList();

    /// <summary>Everything <see cref="Hidden"/> leaves out, still split by decay.</summary>
    public ParameterGroups WithoutHidden()
    {
        var hidden = Hidden.Select(h => h.Name).ToHashSet();
        return new ParameterGroups(Decay.Where(x => !hidden.Contains(x.Name)).ToList(), NoDecay) { LearningRateMultipliers = LearningRateMultipliers };
    }

    /// <summary>Embedding (a name with "embed", or GPT-2's wte/wpe), head (<c>lm_head</c>), a 2-D matrix, or a 1-D scalar tensor.</summary>
    public static ParameterRole RoleOf(string name, Parameter p)
    {
        if (p.dim() < 2) return ParameterRole.Scalar;
        if (name.StartsWith("lm_head", StringComparison.Ordinal)) return ParameterRole.Head;
        if (name.Contains("embed") || name.Contains("wte") || name.Contains("wpe")) return ParameterRole.Embedding;
        return ParameterRole.Matrix;
    }

    /// <summary>
    /// AdamW's parameter groups: parameters with the same peak learning rate and decay share one, groups ordered by
    /// their first parameter (decayed first), parameters in model order. With one learning rate for all roles these
    /// are exactly the two groups decay / no decay, so optimizer state saved before per-group rates existed still loads.
    /// </summary>
    public IReadOnlyList<(IReadOnlyList<Parameter> Params, double LearningRate, bool Decay)> ByLearningRate(GroupLearningRates lrs)
    {
        var groups = new List<(List<Parameter> Params, double LearningRate, bool Decay)>();
        void Add((string Name, Parameter Param) x, bool decay)
        {
            var lr = LearningRateOf(x.Name, x.Param, lrs);
            var i = groups.FindIndex(g => g.LearningRate == lr && g.Decay == decay);
            if (i < 0) groups.Add(([x.Param], lr, decay));
            else groups[i].Params.Add(x.Param);
        }
        foreach (var x in Decay) Add(x, true);
        foreach (var x in NoDecay) Add(x, false);
        return groups.Select(g => ((IReadOnlyList<Parameter>)g.Params, g.LearningRate, g.Decay)).ToList();
    }
}

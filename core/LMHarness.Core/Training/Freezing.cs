using System.Text.RegularExpressions;
using LMHarness.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Training;

/// <summary>
/// Partial fine-tuning (<see cref="TrainingConfig.Freeze"/>; ULMFiT, Howard and Ruder 2018, freezes the lower layers
/// first): the parameters a pattern names stop requiring gradients. Autograd then computes none for them,
/// <see cref="Optimizers.ParameterGroups.Split"/> leaves them out of the optimizer (no state, no update, no weight
/// decay), and their bytes stay those they started with: the source's under init_from, the initialisation's otherwise.
/// A tied head is the token embedding itself, so freezing <c>model.embed_tokens</c> freezes the head too.
/// </summary>
public static partial class Freezing
{
    /// <summary>
    /// Freezes the parameters of <paramref name="model"/> that <paramref name="patterns"/> name and returns the model.
    /// Throws, naming the pattern and the model's parameter names, when a pattern names no parameter, and when nothing
    /// would be left to train.
    /// </summary>
    public static T Apply<T>(T model, IReadOnlyList<string>? patterns) where T : nn.Module
    {
        if (patterns is not { Count: > 0 }) return model;
        var parsed = patterns.Select(ParameterPattern.Parse).ToList();
        var all = model.named_parameters().ToList();
        foreach (var p in parsed)
            if (!all.Any(x => p.Matches(x.name)))
                throw new ArgumentException($"freeze: '{p}' names no parameter of this model. Its parameters are {Outline(all.Select(x => x.name))} " +
                    "(scripts/inspect.csx lists each one): give one of these prefixes, with a-b or * for the layer number.");
        var frozen = all.Where(x => parsed.Any(p => p.Matches(x.name))).ToList();
        if (frozen.Count == all.Count)
            throw new ArgumentException($"freeze: [{string.Join(", ", patterns)}] names every parameter, which leaves nothing to train: freeze fewer, e.g. model.embed_tokens or model.layers.0-1.");
        foreach (var (_, p) in frozen) p.requires_grad = false;
        return model;
    }

    /// <summary>"freeze [model.embed_tokens, ...]: 1,234 of 5,678 parameters keep their values, 4,444 train": what a run with freeze set keeps as it was.</summary>
    public static string Describe(nn.Module model, IReadOnlyList<string> patterns)
    {
        var all = model.named_parameters().ToList();
        long frozen = all.Where(x => !x.parameter.requires_grad).Sum(x => x.parameter.numel()), total = all.Sum(x => x.parameter.numel());
        return $"freeze [{string.Join(", ", patterns)}]: {frozen:N0} of {total:N0} parameters keep their values, {total - frozen:N0} train";
    }

    /// <summary>The names cut to 4 segments, layer numbers as one range: model.layers.0-5.self_attn.q_proj, model.norm.weight.</summary>
    static string Outline(IEnumerable<string> names)
    {
        var list = names.ToList();
        var numbers = list.SelectMany(n => n.Split('.')).Where(s => s.All(char.IsAsciiDigit) && s.Length > 0).Select(long.Parse).DefaultIfEmpty(0).ToList();
        var range = $"{numbers.Min()}-{numbers.Max()}";
        return string.Join(", ", list.Select(n => Number().Replace(string.Join('.', n.Split('.').Take(4)), "." + range)).Distinct());
    }

    [GeneratedRegex(@"\.\d+(?=\.|$)")]
    private static partial Regex Number();
}

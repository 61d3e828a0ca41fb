using System.Globalization;
using LMHarness.Config;

namespace LMHarness.Model;

/// <summary>A tensor as a weights file's header declares it, before any of its bytes are read.</summary>
public sealed record DeclaredTensor(string Name, long[] Shape, long Bytes);

/// <summary>
/// The check every loader makes before it builds a model or reads a tensor: the tensors a weights file declares (its
/// header, bounded by the file's size) must be exactly those the config builds (<see cref="ParameterShapes"/>), and the
/// model must fit in the memory this process may still take (<see cref="MachineMemory"/>). A config is a typo or a
/// wrong file away from describing a model of terabytes; building it first would let the allocation, not the file,
/// decide what happens. A mismatch is one sentence naming the weights file, the config file, the first tensor that
/// disagrees (expected shape against found) and what to fix.
/// </summary>
public static class WeightsFit
{
    /// <summary>
    /// Refuses (<see cref="InvalidDataException"/>) the first tensor, in the model's order, that <paramref name="declared"/>
    /// lacks or holds in another shape, then the first declared tensor the model does not build (unless
    /// <paramref name="ignored"/> says the loader skips it); then refuses (<see cref="InsufficientMemoryException"/>) a
    /// model whose float32 weights, plus the file's tensors read beside them, exceed <paramref name="budget"/>.
    /// <paramref name="fix"/> completes the sentence: what the user should do.
    /// </summary>
    public static void Check(ModelConfig config, IEnumerable<ParameterShape> expected, IReadOnlyList<DeclaredTensor> declared,
        string weightsFile, string configFile, string fix, MemoryBudget budget, Func<string, bool>? ignored = null)
    {
        var byName = new Dictionary<string, DeclaredTensor>();
        var duplicates = new List<DeclaredTensor>();
        foreach (var t in declared)
            if (!byName.TryAdd(t.Name, t)) duplicates.Add(t);

        string Refusal(string problem) =>
            $"{weightsFile} does not hold the model {configFile} describes: {problem} (the config describes {Count(ParameterShapes.Count(config))} parameters; " +
            $"the file holds {Count(declared.Sum(t => Elements(t.Shape)))}, {MachineMemory.Text(declared.Sum(t => (double)t.Bytes))}); {fix}.";

        var used = new HashSet<string>();
        double parameters = 0, largest = 0;
        foreach (var p in expected)
        {
            if (!byName.TryGetValue(p.Name, out var found))
                throw new InvalidDataException(Refusal($"it has no tensor '{p.Name}', which the config makes {ParameterShape.ShapeText(p.Shape)}"));
            if (!found.Shape.SequenceEqual(p.Shape))
                throw new InvalidDataException(Refusal($"tensor '{p.Name}' is {ParameterShape.ShapeText(found.Shape)} in the file but {ParameterShape.ShapeText(p.Shape)} in the config"));
            used.Add(p.Name);
            parameters += Elements(p.Shape);
            largest = Math.Max(largest, Elements(p.Shape));
        }
        var extra = declared.FirstOrDefault(t => !used.Contains(t.Name) && !(ignored?.Invoke(t.Name) ?? false)) ?? duplicates.FirstOrDefault();
        if (extra is not null)
            throw new InvalidDataException(Refusal($"it holds tensor '{extra.Name}' {ParameterShape.ShapeText(extra.Shape)}, which the config does not build"));

        // The model in float32, the file's tensors read before they are copied in, and one cast of the largest.
        double fileBytes = declared.Sum(t => (double)t.Bytes);
        budget.Ensure(4 * parameters + fileBytes + 4 * largest, $"Loading {weightsFile}",
            $"{Count(parameters)} parameters in float32, plus {MachineMemory.Text(fileBytes)} of tensors read from the file",
            "load it on a machine with more free memory, or free some first");
    }

    static double Elements(long[] shape) => shape.Aggregate(1.0, (a, b) => a * b);

    /// <summary>808,192; 1.2e+12 past a trillion, where digits stop being read.</summary>
    static string Count(double n) => n < 1e12 ? n.ToString("N0", CultureInfo.InvariantCulture) : n.ToString("0.0e+0", CultureInfo.InvariantCulture);
}

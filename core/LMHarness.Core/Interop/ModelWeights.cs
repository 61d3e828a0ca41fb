using System.Text;
using LMHarness.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Interop;

/// <summary>
/// Copies named tensors into a <see cref="CausalLM"/> strictly: every parameter must be given with its exact shape
/// and no name may be left over, otherwise one error lists the missing, unexpected and mis-shaped tensors. Values are
/// cast to the parameter's dtype and device (an HF bf16 checkpoint loads into a float32 model).
/// </summary>
public static class ModelWeights
{
    /// <summary>The model's state dict as CPU tensors (detached copies), keyed by state-dict name.</summary>
    public static Dictionary<string, Tensor> Snapshot(CausalLM model) =>
        model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().clone());

    /// <summary>Loads <paramref name="tensors"/> into <paramref name="model"/>; <paramref name="source"/> names the file in errors.</summary>
    public static void Load(CausalLM model, IReadOnlyDictionary<string, Tensor> tensors, string source)
    {
        var target = model.state_dict();
        var missing = target.Keys.Where(k => !tensors.ContainsKey(k)).ToList();
        var unexpected = tensors.Keys.Where(k => !target.ContainsKey(k)).ToList();
        var misShaped = target.Where(kv => tensors.TryGetValue(kv.Key, out var t) && !t.shape.SequenceEqual(kv.Value.shape))
            .Select(kv => $"{kv.Key} is [{string.Join(", ", tensors[kv.Key].shape)}] in the checkpoint but [{string.Join(", ", kv.Value.shape)}] in the model")
            .ToList();
        if (missing.Count + unexpected.Count + misShaped.Count > 0)
        {
            var sb = new StringBuilder($"{source} does not fit the model built from its config:");
            if (missing.Count > 0) sb.Append($" missing {string.Join(", ", missing.Take(6))}{(missing.Count > 6 ? $" (+{missing.Count - 6} more)" : "")};");
            if (unexpected.Count > 0) sb.Append($" unexpected {string.Join(", ", unexpected.Take(6))}{(unexpected.Count > 6 ? $" (+{unexpected.Count - 6} more)" : "")};");
            if (misShaped.Count > 0) sb.Append(" shape mismatch: " + string.Join("; ", misShaped.Take(6)) + ";");
            sb.Append(" the weights and config.json come from different models, or the file is damaged: re-export or re-download both together.");
            throw new InvalidDataException(sb.ToString());
        }
        using var _ = torch.no_grad();
        foreach (var (name, dst) in target)
        {
            var src = tensors[name];
            if (src.is_floating_point() && !torch.isfinite(src).all().item<bool>())
                throw new InvalidDataException($"{source}: tensor '{name}' holds NaN or infinity; the checkpoint is corrupt (re-export it from a healthy step)");
            dst.copy_(src.to(dst.dtype, dst.device));
        }
    }
}

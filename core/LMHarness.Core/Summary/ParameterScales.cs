using System.Text;
using LMHarness.Config;
using LMHarness.Model;

namespace LMHarness.Summary;

/// <summary>One parameter's scales: its initial std (<see cref="ParameterInit.StdOf"/>; null = its module's own init) and the
/// factor on its role's learning rate (<see cref="MupScaling.LearningRateMultiplier"/>, 1 under SP).</summary>
public sealed record ParameterScale(string Name, IReadOnlyList<long> Shape, double? InitStd, double LearningRateMultiplier);

/// <summary>
/// Each parameter of a model with its initial std and learning-rate multiplier, and under μP the model-wide factors
/// (logits x base/width, attention sqrt(base_head_dim)/d_head; Tensor Programs V, Yang et al. 2022): what
/// <c>scripts/inspect.csx --scales</c> prints, so a person can see what μP changed.
/// </summary>
public sealed class ParameterScales
{
    public ParameterScales(CausalLM model)
    {
        Config = model.Config;
        Rows = model.named_parameters()
            .Select(x => new ParameterScale(x.name, x.parameter.shape, ParameterInit.StdOf(Config, x.name), MupScaling.LearningRateMultiplier(Config, x.name)))
            .ToList();
    }

    public ModelConfig Config { get; }
    public IReadOnlyList<ParameterScale> Rows { get; }

    public string ToTable()
    {
        var sb = new StringBuilder();
        int width = Math.Max(30, Rows.Max(r => r.Name.Length) + 2);
        sb.AppendLine($"{"Parameter".PadRight(width)}{"Shape",-16}{"Init std",12}{"LR x",10}");
        foreach (var r in Rows)
        {
            string std = r.InitStd switch { null => "module", 0 => "0", double s => s.ToString("G4") };
            sb.AppendLine($"{r.Name.PadRight(width)}{"[" + string.Join(", ", r.Shape) + "]",-16}{std,12}{r.LearningRateMultiplier,10:G4}");
        }
        sb.AppendLine(Config.Parametrization == Parametrization.Mup
            ? $"μP at width multiplier m = d_model / mup_base_width = {MupScaling.WidthMultiplier(Config):G4}: logits x {MupScaling.ReadoutMultiplier(Config):G4}, " +
              $"attention scores x sqrt({MupScaling.BaseHeadDim(Config)}) / {Config.HeadDim} (q x {MupScaling.QueryMultiplier(Config):G4}); LR x applies to AdamW and AdEMAMix."
            : "SP: every learning-rate multiplier is 1; attention scores / sqrt(head_dim); logits unscaled.");
        return sb.ToString();
    }

    public override string ToString() => ToTable();
}

using LMHarness.Config;
using LMHarness.Data;
using LMHarness.Model;
using LMHarness.Training.Optimizers;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Coordinates;

/// <summary>The mean |x| of one coordinate (an activation tensor) of one model at one training step.</summary>
public sealed record CoordinateRecord(Parametrization Parametrization, int Width, int Step, string Coordinate, double MeanAbs);

/// <summary>
/// The coordinate check of Tensor Programs V (Yang et al. 2022, section 7; microsoft/mup's <c>coord_check</c>): train
/// the same model at several widths for a few steps and record, at every step's forward pass, the mean absolute value
/// of the embedding output, each block's attention and MLP outputs, and the logits. Under a correct μP every such
/// coordinate stays Θ(1) as the width grows (flat against width on log-log axes); under SP with Adam the updates
/// ΔW x sum fan_in entries of size ~lr, so after a step or two the hidden outputs and the logits grow with width.
/// Step 1 is the forward at initialisation; step t the forward after t - 1 updates.
/// </summary>
public static class CoordinateCheck
{
    /// <summary>The coordinates recorded, in model order, for <paramref name="nLayer"/> blocks.</summary>
    public static IReadOnlyList<string> Names(int nLayer) =>
        ["embedding", .. Enumerable.Range(0, nLayer).SelectMany(i => new[] { $"layers.{i}.attn", $"layers.{i}.mlp" }), "logits"];

    /// <summary>
    /// Trains <paramref name="model"/>(width, parametrization) for each width and parametrization, <paramref name="steps"/>
    /// steps of <paramref name="training"/>'s optimizer at its peak rate (no schedule, no clipping, as mup's check), each
    /// model seeded with training.seed and fed the same batches: <paramref name="batch"/>(step) for step 0.. is called
    /// inside the step's dispose scope, so the tensors it returns are freed with the step.
    /// </summary>
    public static IReadOnlyList<CoordinateRecord> Run(Func<int, Parametrization, ModelConfig> model, IReadOnlyList<int> widths,
        IReadOnlyList<Parametrization> parametrizations, TrainingConfig training, int steps, Func<int, (Tensor X, Tensor Y)> batch)
    {
        if (widths.Count < 2) throw new ArgumentException($"a coordinate check needs at least two widths (got {widths.Count}).");
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), $"a coordinate check needs at least one step (got {steps}).");
        var records = new List<CoordinateRecord>();
        foreach (var p in parametrizations)
            foreach (var w in widths)
                records.AddRange(Train(model(w, p).Validated(), training, steps, batch));
        return records;
    }

    static List<CoordinateRecord> Train(ModelConfig config, TrainingConfig training, int steps, Func<int, (Tensor X, Tensor Y)> batch)
    {
        torch.random.manual_seed(training.Seed);
        using var model = new CausalLM(config);
        model.train();
        using var optimizer = OptimizerFactory.Create(model, training);
        var records = new List<CoordinateRecord>();
        int step = 0;
        // Each hook reduces its tensor to one number at once: nothing recorded outlives the forward pass.
        void Record(string name, Tensor output)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            records.Add(new CoordinateRecord(config.Parametrization, config.DModel, step + 1, name, output.abs().mean().item<float>()));
        }
        var hooks = new List<Action> { model.Body.EmbedTokens.register_forward_hook((_, _, y) => { Record("embedding", y); return y; }).remove };
        foreach (var (block, i) in model.Body.Layers.Select((b, i) => (b, i)))
        {
            hooks.Add(block.SelfAttention.register_forward_hook((_, _, _, y) => { Record($"layers.{i}.attn", y); return y; }).remove);
            hooks.Add(block.Mlp.register_forward_hook((_, _, y) => { Record($"layers.{i}.mlp", y); return y; }).remove);
        }
        try
        {
            for (; step < steps; step++)
            {
                using var scope = NewDisposeScope();
                var (x, y) = batch(step);
                optimizer.ZeroGrad();
                var logits = model.forward(x);
                Record("logits", logits);
                LanguageModelLoss.Mean(logits, y).backward();
                optimizer.Step(1.0);
            }
        }
        finally { foreach (var remove in hooks) remove(); }
        return records;
    }

    /// <summary>
    /// <paramref name="steps"/> batches of TinyShakespeare-style training windows drawn once from <paramref name="tokenFile"/>
    /// (seeded), as a function of the step that makes fresh tensors from them: every width sees the same tokens.
    /// </summary>
    public static Func<int, (Tensor X, Tensor Y)> Batches(string tokenFile, int batchSize, int context, int steps, long seed)
    {
        using var file = TokenFile.Open(tokenFile, checkIds: true);
        var windows = new RandomWindows(file, batchSize, context, seed);
        var xs = new long[steps][];
        var ys = new long[steps][];
        for (int s = 0; s < steps; s++)
        {
            xs[s] = new long[batchSize * context];
            ys[s] = new long[batchSize * context];
            windows.NextInto(xs[s], ys[s]);
        }
        // On the CPU, where Train builds its models: the check is a few steps of small models.
        return s => (tensor(xs[s], [batchSize, context], device: CPU), tensor(ys[s], [batchSize, context], device: CPU));
    }
}

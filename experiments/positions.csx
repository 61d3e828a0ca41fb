// Positional schemes: learned absolute (GPT-2) vs rotary (RoPE, Su et al. 2021) vs none (NoPE, Kazemnejad et al. 2023),
// and what each does at TWICE the context it was trained on (Press et al. 2022, "Train Short, Test Long").
// Run:   dotnet script experiments/positions.csx        Smoke: dotnet script experiments/positions.csx -- --smoke
// Seeds: 3 per variant by default (~1.5 min on an idle 2-core box, 1.5x the old 2-seed default): the fewest that give a
// usable 95% interval (with 2, t(0.975, 1) = 12.7); --seeds 6 narrows it to 0.42x (t/√n: 2.57/√6 vs 4.30/√3) for 2x the time.
#load "../lmharness.csx"
using LMHarness.Config;
using LMHarness.Experiments;
using LMHarness.Reports;
using LMHarness.Training;

var exp = new Experiment("positions", Args);

// ---- knobs ----
int steps   = exp.Knob("steps", 250);
int context = exp.Knob("context", 64);     // trained context; evaluated at this and at 2x
int dModel  = exp.Knob("d_model", 96);
int nLayer  = exp.Knob("n_layer", 2);
int batch   = exp.Knob("batch", 16);
double lr   = exp.Knob("lr", 3e-3);
int evalBatches = exp.Knob("eval_batches", exp.Smoke ? 2 : 10);

// The model is BUILT for 2x context (so the learned position table has rows for it) but TRAINED at 1x:
// rows beyond 1x never receive a gradient, exactly the situation of using a model past its training length.
var model = new ModelConfig
{
    ContextLength = 2 * context, NLayer = nLayer, DModel = dModel, NHead = 6, NKvHead = 6,
    FfnHidden = 4 * dModel, Norm = NormKind.RmsNorm, Bias = false,
};
var training = RunRecipes.ShortRun(steps, lr, batch, context);

exp.Variant("learned", model with { Position = PositionKind.Learned }, training);
exp.Variant("rope", model with { Position = PositionKind.Rope }, training);
exp.Variant("nope", model with { Position = PositionKind.None }, training);

var report = exp.Run();

// ---- the extrapolation test: same checkpoints, validation windows of 1x and 2x the trained context ----
var longContext = new VariantTable("val_loss_1x", "val_loss_2x");
foreach (var variant in new[] { "learned", "rope", "nope" })
    for (int k = 0; k < exp.Seeds; k++)
        longContext.Add(variant, k, RunEvaluation.ValLoss(exp.RunFolder(variant, k), context, evalBatches),
                                    RunEvaluation.ValLoss(exp.RunFolder(variant, k), 2 * context, evalBatches));
Console.WriteLine(longContext.Markdown(("change", m => m[1] - m[0])));
Console.WriteLine($"long-context losses: {longContext.WriteCsv(Path.Combine(exp.Folder, "long_context.csv"))}");

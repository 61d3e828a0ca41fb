// Width vs depth at (about) equal parameters: a wide, shallow transformer vs a narrow, deep one.
// Per block, attention + 4x MLP hold ~12 d^2 weights, so n_layer x d_model^2 is held fixed: 2 x 128^2 = 8 x 64^2.
// Run:   dotnet script experiments/width_vs_depth.csx        Smoke: dotnet script experiments/width_vs_depth.csx -- --smoke
// Seeds: 3 per variant by default (~2.5 min on an idle 2-core box, 1.5x the old 2-seed default): the fewest that give a
// usable 95% interval (with 2, t(0.975, 1) = 12.7); --seeds 6 narrows it to 0.42x (t/√n: 2.57/√6 vs 4.30/√3) for 2x the time.
#load "../lmharness.csx"
using LMHarness.Config;
using LMHarness.Experiments;
using LMHarness.Training;

var exp = new Experiment("width_vs_depth", Args);

// ---- knobs ----
int steps   = exp.Knob("steps", 250);
int context = exp.Knob("context", 64);
int batch   = exp.Knob("batch", 16);
double lr   = exp.Knob("lr", 2e-3);
int wide    = exp.Knob("wide_d_model", 128);  // with wide_layers
int wideL   = exp.Knob("wide_layers", 2);
int narrow  = exp.Knob("narrow_d_model", 64); // with narrow_layers = wide_layers * (wide/narrow)^2
int narrowL = wideL * wide * wide / (narrow * narrow);

ModelConfig Shape(int d, int layers) => new()
{
    ContextLength = context, NLayer = layers, DModel = d, NHead = d / 32, NKvHead = d / 32,
    FfnHidden = 4 * d, Position = PositionKind.Rope, Norm = NormKind.RmsNorm, Bias = false,
};
var training = RunRecipes.ShortRun(steps, lr, batch, context);

var wideModel = Shape(wide, wideL);
var deepModel = Shape(narrow, narrowL);
Console.WriteLine($"wide {wideL}x{wide}: {exp.ParameterCount(wideModel):N0} params; deep {narrowL}x{narrow}: {exp.ParameterCount(deepModel):N0} params");

exp.Variant($"wide_{wideL}x{wide}", wideModel, training);
exp.Variant($"deep_{narrowL}x{narrow}", deepModel, training);

exp.Run();

// Feed-forward block: GPT-2's GELU MLP (W2 GELU(W1 x), hidden 4d) vs SwiGLU (Shazeer 2020: W_down (SiLU(W_gate x) * W_up x)),
// at EQUAL parameter count: SwiGLU has three matrices, so its hidden width is 2/3 of the MLP's (8d/3 vs 4d).
// Run:   dotnet script experiments/feedforward.csx        Smoke: dotnet script experiments/feedforward.csx -- --smoke
// Seeds: 3 per variant by default (~1.5 min on an idle 2-core box, 1.5x the old 2-seed default): the fewest that give a
// usable 95% interval (with 2, t(0.975, 1) = 12.7); --seeds 6 narrows it to 0.42x (t/√n: 2.57/√6 vs 4.30/√3) for 2x the time.
#load "../lmharness.csx"
using LMHarness.Config;
using LMHarness.Experiments;
using LMHarness.Training;

var exp = new Experiment("feedforward", Args);

// ---- knobs ----
int steps   = exp.Knob("steps", 250);
int dModel  = exp.Knob("d_model", 96);
int nLayer  = exp.Knob("n_layer", 2);
int context = exp.Knob("context", 64);
int batch   = exp.Knob("batch", 16);
double lr   = exp.Knob("lr", 3e-3);

var model = new ModelConfig
{
    ContextLength = context, NLayer = nLayer, DModel = dModel, NHead = 6, NKvHead = 6,
    Position = PositionKind.Rope, Norm = NormKind.RmsNorm, Bias = false,
};
var training = RunRecipes.ShortRun(steps, lr, batch, context);

// 2 matrices of d x 4d  ==  3 matrices of d x 8d/3
var gelu = model with { FeedForwardKinds = [FeedForwardKind.Mlp], FfnHidden = 4 * dModel };
var swiglu = model with { FeedForwardKinds = [FeedForwardKind.SwiGlu], FfnHidden = 8 * dModel / 3 };
Console.WriteLine($"parameters: gelu_mlp {exp.ParameterCount(gelu):N0}, swiglu {exp.ParameterCount(swiglu):N0}");

exp.Variant("gelu_mlp", gelu, training);
exp.Variant("swiglu", swiglu, training);

exp.Run();

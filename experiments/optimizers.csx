// Optimizers on the same model and data: AdamW (Loshchilov and Hutter 2019) vs Muon for hidden matrices + AdamW for
// the rest (Jordan et al. 2024) vs AdEMAMix (Pagliardini et al. 2024: Adam plus a slow momentum EMA).
// Run:   dotnet script experiments/optimizers.csx        Smoke: dotnet script experiments/optimizers.csx -- --smoke
// Seeds: 3 per variant by default (~1.5 min on an idle 2-core box, 1.5x the old 2-seed default): the fewest that give a
// usable 95% interval (with 2, t(0.975, 1) = 12.7); --seeds 6 narrows it to 0.42x (t/√n: 2.57/√6 vs 4.30/√3) for 2x the time.
#load "../lmharness.csx"
using LMHarness.Config;
using LMHarness.Experiments;
using LMHarness.Training;

var exp = new Experiment("optimizers", Args);

// ---- knobs ----
int steps     = exp.Knob("steps", 250);
int dModel    = exp.Knob("d_model", 96);
int nLayer    = exp.Knob("n_layer", 2);
int context   = exp.Knob("context", 64);
int batch     = exp.Knob("batch", 16);
double lr     = exp.Knob("lr", 3e-3);       // AdamW / AdEMAMix, and Muon's AdamW part
double muonLr = exp.Knob("muon_lr", 0.02);  // Muon's hidden-matrix learning rate

var model = new ModelConfig
{
    ContextLength = context, NLayer = nLayer, DModel = dModel, NHead = 6, NKvHead = 6,
    FfnHidden = 8 * dModel / 3, FeedForwardKinds = [FeedForwardKind.SwiGlu], Position = PositionKind.Rope,
    Norm = NormKind.RmsNorm, Bias = false,
};
var training = RunRecipes.ShortRun(steps, lr, batch, context);

exp.Variant("adamw", model, training with { Optimizer = OptimizerKind.AdamW });
exp.Variant("muon", model, training with { Optimizer = OptimizerKind.Muon, MuonLearningRate = muonLr });
exp.Variant("ademamix", model, training with { Optimizer = OptimizerKind.AdEMAMix });

exp.Run();

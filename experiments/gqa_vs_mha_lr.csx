// Does sharing K/V heads still cost loss once each attention variant trains at ITS OWN best learning rate?
// gqa_vs_mha.csx trains MHA, GQA and MQA at one rate (3e-3); a gap found there may only say how well 3e-3 suits
// each. Here every variant trains over a log grid of peak learning rates around 3e-3 (x1/4, x1/2, x1, x2, x4; the
// grid grows past an edge while the best rate sits on it) for 3 seeds each, and the variants are then compared each
// at its best rate. The report states both verdicts: at the recipe's rate, and at each variant's best.
// Cost: 3 variants x 5+ rates x 3 seeds = 45+ runs of 250 steps, ~6 min on an idle 2-core box (5x gqa_vs_mha).
// Fewer rates (--lr_sweep_points 3) or variants cut it; fewer than 3 seeds leaves no usable interval.
// Run:   dotnet script experiments/gqa_vs_mha_lr.csx        Smoke: dotnet script experiments/gqa_vs_mha_lr.csx -- --smoke
// Knobs: dotnet script experiments/gqa_vs_mha_lr.csx -- --help   (any recipe sweeps the same way with -- --lr_sweep)
#load "../lmharness.csx"
using LMHarness.Config;
using LMHarness.Experiments;
using LMHarness.Training;

var exp = new Experiment("gqa_vs_mha_lr", Args, lrSweep: true);

// ---- knobs: gqa_vs_mha's, so its runs at the recipe's rate are the same configs ----
int steps    = exp.Knob("steps", 250);
int dModel   = exp.Knob("d_model", 96);
int nHead    = exp.Knob("n_head", 6);       // query heads
int gqaKv    = exp.Knob("gqa_kv_heads", 2); // K/V heads of the GQA variant
int nLayer   = exp.Knob("n_layer", 2);
int context  = exp.Knob("context", 64);
int batch    = exp.Knob("batch", 16);
double lr    = exp.Knob("lr", 3e-3);        // the middle of every variant's grid

var baseModel = new ModelConfig
{
    ContextLength = context, NLayer = nLayer, DModel = dModel, NHead = nHead,
    FfnHidden = 8 * dModel / 3 / 8 * 8, FeedForwardKinds = [FeedForwardKind.SwiGlu], Position = PositionKind.Rope,
    Norm = NormKind.RmsNorm, Bias = false,
};
var training = RunRecipes.ShortRun(steps, lr, batch, context);

exp.Variant("mha", baseModel with { AttentionKinds = [AttentionKind.Mha], NKvHead = nHead }, training);
exp.Variant($"gqa{gqaKv}", baseModel with { AttentionKinds = [AttentionKind.Gqa], NKvHead = gqaKv }, training);
exp.Variant("mqa", baseModel with { AttentionKinds = [AttentionKind.Gqa], NKvHead = 1 }, training);

// ---- sweep, then compare at the best rates: lr_sweep.png / lr_sweep.csv, report.html in runs/gqa_vs_mha_lr/ ----
exp.Run();

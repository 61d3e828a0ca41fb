// Tune small, train big: does the best learning rate stay put as the model widens?
// Tensor Programs V (Yang et al. 2022, figure 1): under the standard parametrization (SP) the optimum moves with width,
// so a sweep on a narrow model says little about a wide one; under μP (parametrization mup, docs/mup.md) it stays.
// Here: d_model 32..256 (8x), 4 layers, TinyShakespeare characters, equal tokens for every width; each width under SP
// and under μP (base width = the narrowest, where the two are the same model) over a log2 grid of 7 peak learning
// rates (grown past an edge while the best sits on it), 3 seeds each.
// Out (runs/mup_transfer/): lr_transfer.png (final val loss vs rate, one curve per width, SP beside μP),
// lr_transfer.md (each width's best rate and the rates within seed noise of it, the widest model at the narrowest's best
// rate against its own best, the headline: how far the optimum moved), plus the usual sweep and comparison files.
// Cost: 4 widths x 2 parametrizations x 7+ rates x 3 seeds = 168+ runs of 200 steps x 512 tokens (102k tokens each),
// about 30 min on the 2-core box, half of it the widest model. Finished runs are reused. --smoke: widths 32 and 64,
// 3 rates, 1 seed, 6 steps (9 s once built).
// Run:   ./lmh experiments/mup_transfer.csx          Smoke: ./lmh experiments/mup_transfer.csx -- --smoke
#load "../lmharness.csx"
using LMHarness.Config;
using LMHarness.Experiments;
using LMHarness.Reports;
using LMHarness.Training;

var exp = new Experiment("mup_transfer", Args, lrSweep: true, seeds: 3, sweepPoints: 7);

// ---- knobs ----
int[] widths = exp.Knob("widths", exp.Smoke ? "32,64" : "32,64,128,256").Split(',').Select(int.Parse).ToArray(); // d_model; the first is μP's base
int steps    = exp.Knob("steps", 200);       // the same for every width => equal tokens
int nLayer   = exp.Knob("n_layer", 4);
int nHead    = exp.Knob("n_head", 4);        // fixed: heads widen with d_model (μP's base head dim = base width / n_head)
int context  = exp.Knob("context", 64);
int batch    = exp.Knob("batch", 8);
double lr    = exp.Knob("lr", 4e-3);         // the middle of every grid: lr/8 .. 8 lr

// ---- the model family: a small Llama-style decoder, untied head (μP's MuReadout), only d_model changes ----
ModelConfig Model(int width, Parametrization p) => new()
{
    ContextLength = context, NLayer = nLayer, DModel = width, NHead = nHead, NKvHead = nHead, FfnHidden = 8 * width / 3 / 8 * 8,
    AttentionKinds = [AttentionKind.Mha], FeedForwardKinds = [FeedForwardKind.SwiGlu], Position = PositionKind.Rope,
    Norm = NormKind.RmsNorm, Bias = false, TieEmbeddings = false,
    Parametrization = p, MupBaseWidth = p == Parametrization.Mup ? widths[0] : 0,
};
// One evaluation, at the end, over the same 16 validation batches for every run: the final loss is all the sweep reads.
var training = RunRecipes.ShortRun(steps, lr, batch, context) with { EvalInterval = steps, EvalBatches = 16, GradFlowInterval = 0 };

// ---- the variants: every width under both parametrizations (narrow first, so an interrupted run has both) ----
var parametrizations = new[] { Parametrization.Sp, Parametrization.Mup };
string Name(Parametrization p, int width) => $"{(p == Parametrization.Sp ? "sp" : "mup")}_d{width}";
foreach (var w in widths)
    foreach (var p in parametrizations)
        exp.Variant(Name(p, w), Model(w, p), training);

// ---- sweep every variant (lr_sweep.png/csv, the comparison at each variant's best rate) ----
exp.Run();

// ---- the transfer: each width's best rate and its interval, the widest at the narrowest's best, the figure ----
var sweeps = parametrizations.Select(p => new WidthSweeps(p == Parametrization.Sp ? "SP" : $"μP (base d_model {widths[0]})",
    [.. widths.Select(w => (w, (IReadOnlyList<SweepPoint>)[.. exp.Sweep.Where(s => s.Variant == Name(p, w))]))])).ToList();
var results = sweeps.Select(s => TransferResult.Of(s)).ToList();
File.WriteAllText(Path.Combine(exp.Folder, "lr_transfer.md"), LearningRateTransferReport.Markdown(results));
LearningRateTransferReport.Figure(sweeps, Path.Combine(exp.Folder, "lr_transfer.png"));
Console.WriteLine(LearningRateTransferReport.Markdown(results));
Console.WriteLine($"figure: {Path.Combine(exp.Folder, "lr_transfer.png")}");

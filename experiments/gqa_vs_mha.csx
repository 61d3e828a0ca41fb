// Multi-head vs grouped-query vs multi-query attention at equal training tokens.
// Question: how much validation loss do we give up by sharing K/V heads (GQA: Ainslie et al. 2023; MQA: Shazeer 2019),
// and what do we get back in parameters, speed and memory?
// Run:   dotnet script experiments/gqa_vs_mha.csx            (or: dotnet script experiments/gqa_vs_mha.csx -- --steps 600)
// Smoke: dotnet script experiments/gqa_vs_mha.csx -- --smoke
// Seeds: 3 per variant by default (~65 s on an idle 2-core box, 1.5x the old 2-seed default): the fewest that give a
// usable 95% interval (with 2, t(0.975, 1) = 12.7); --seeds 6 narrows it to 0.42x (t/√n: 2.57/√6 vs 4.30/√3) for 2x the time.
#load "../lmharness.csx"
using LMHarness.Config;
using LMHarness.Experiments;
using LMHarness.Training;

var exp = new Experiment("gqa_vs_mha", Args);

// ---- knobs (each can be overridden: --steps 600 --d_model 128 ...) ----
int steps    = exp.Knob("steps", 250);      // optimizer steps per run (same for every variant => equal tokens)
int dModel   = exp.Knob("d_model", 96);
int nHead    = exp.Knob("n_head", 6);       // query heads
int gqaKv    = exp.Knob("gqa_kv_heads", 2); // K/V heads of the GQA variant (MHA = n_head, MQA = 1)
int nLayer   = exp.Knob("n_layer", 2);
int context  = exp.Knob("context", 64);
int batch    = exp.Knob("batch", 16);
double lr    = exp.Knob("lr", 3e-3);

// ---- the model family: a small Llama-style decoder on TinyShakespeare characters ----
var baseModel = new ModelConfig
{
    ContextLength = context, NLayer = nLayer, DModel = dModel, NHead = nHead,
    FfnHidden = 8 * dModel / 3 / 8 * 8, FeedForwardKinds = [FeedForwardKind.SwiGlu], Position = PositionKind.Rope,
    Norm = NormKind.RmsNorm, Bias = false,
};
var training = RunRecipes.ShortRun(steps, lr, batch, context);

// ---- the variants: only the number of K/V heads changes ----
exp.Variant("mha", baseModel with { AttentionKinds = [AttentionKind.Mha], NKvHead = nHead }, training);
exp.Variant($"gqa{gqaKv}", baseModel with { AttentionKinds = [AttentionKind.Gqa], NKvHead = gqaKv }, training);
exp.Variant("mqa", baseModel with { AttentionKinds = [AttentionKind.Gqa], NKvHead = 1 }, training);

// ---- run all variants x seeds, then compare (PNGs, comparison.md/csv, comparison.statistics.csv, report.html in runs/gqa_vs_mha/) ----
// The headline names a winner only when the 95% interval of its lead over the runner-up excludes zero;
// otherwise it says how many seeds a gap of the observed size would need.
exp.Run();

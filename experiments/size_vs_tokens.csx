// Model size vs tokens at FIXED compute: C ~ 6 N D (N parameters, D training tokens; Kaplan et al. 2020,
// Hoffmann et al. 2022). A small model sees many tokens, a large one few; which spends the budget best?
// Run:   dotnet script experiments/size_vs_tokens.csx        Smoke: dotnet script experiments/size_vs_tokens.csx -- --smoke
// Seeds: 3 per variant by default (~2 min on an idle 2-core box, 1.5x the old 2-seed default): the fewest that give a
// usable 95% interval (with 2, t(0.975, 1) = 12.7); --seeds 6 narrows it to 0.42x (t/√n: 2.57/√6 vs 4.30/√3) for 2x the time.
#load "../lmharness.csx"
using LMHarness.Config;
using LMHarness.Experiments;
using LMHarness.Training;

var exp = new Experiment("size_vs_tokens", Args);

// ---- knobs ----
double budget = exp.Knob("flops", 4e11);    // training FLOPs per run, 6 N D
int context   = exp.Knob("context", 64);
int batch     = exp.Knob("batch", 16);
double lr     = exp.Knob("lr", 3e-3);
int[] widths  = exp.Knob("widths", "64,96,160").Split(',').Select(int.Parse).ToArray(); // d_model of each size (2 layers)

foreach (var d in widths)
{
    var model = new ModelConfig
    {
        ContextLength = context, NLayer = 2, DModel = d, NHead = d / 16, NKvHead = d / 16,
        FfnHidden = 4 * d, Position = PositionKind.Rope, Norm = NormKind.RmsNorm, Bias = false,
    };
    long n = exp.ParameterCount(model);   // with the data's vocabulary, as the run will have
    int steps = Math.Max(10, (int)(budget / (6.0 * n * batch * context)));  // D = C / 6N tokens
    Console.WriteLine($"d_model {d}: {n:N0} params -> {steps} steps = {(long)steps * batch * context:N0} tokens");
    exp.Variant($"d{d}", model, RunRecipes.ShortRun(steps, lr, batch, context));
}

// The loss-vs-tokens plot shows each size's whole budget; the comparison's final val loss says who used it best.
exp.Run();

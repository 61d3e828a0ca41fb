// Scaling law from small runs (Chinchilla, Hoffmann et al. 2022; approach 3 refit by Besiroglu et al. 2024): an
// IsoFLOP design (at each of 5 compute budgets, every width whose steps spend it), fitted two ways: approach 3,
// L(N, D) = E + A/N^α + B/D^β on all runs, and approach 2, parabolas per budget. Then the held-out runs: the size the
// fit calls compute-optimal at 2x and 4x the largest budget (--held_out), each loss predicted with two intervals (the
// law's, one run's) BEFORE it trains, then trained and compared. Corpus: the .NET SDK's XML docs as text; no run repeats data.
// Run:   dotnet script experiments/scaling_law.csx        Smoke: dotnet script experiments/scaling_law.csx -- --smoke
// Cost: 26 runs + 2 held out, one seed each (the bootstraps give the intervals): 7.5 min measured on the idle 2-core box
// (16.5 with the box shared); --smoke 25 s. --mup_base 32 --lr 1.6e-2: the same design under μP. Figures: scaling_*.png.
#load "../lmharness.csx"
using LMHarness.Config;
using LMHarness.Data;
using LMHarness.Experiments;
using LMHarness.Plots;
using LMHarness.Reports;
using LMHarness.Runs;
using LMHarness.ScalingLaws;
using LMHarness.Summary;

var exp = new Experiment("scaling_law", Args);

// ---- knobs ----
int context = exp.Knob("context", 64), batch = exp.Knob("batch", 16), layers = exp.Knob("layers", 2);
double lr = exp.Knob("lr", 3e-3);
int mupBase = exp.Knob("mup_base", 0, "μP's base width, where lr was tuned (docs/mup.md); 0: standard parametrization");
int[] widths = exp.Knob("widths", "12,16,24,32,48,64,96,128").Split(',').Select(int.Parse).ToArray(); // d_model of each size
double[] budgets = IsoFlopDesign.Ladder(exp.Knob("flops", 6e10, "the smallest compute budget"), 2, exp.Knob("budgets", 5));
int minSteps = exp.Knob("min_steps", 150, "fewest steps a run of a profile may have");
exp.UseCorpus(exp.Knob("corpus", "dotnet_docs", "corpus name or path, prepared with the char tokenizer"));

ModelConfig Shape(int d) => new()
{
    ContextLength = context, NLayer = layers, DModel = d, NHead = Math.Max(1, d / 16), NKvHead = Math.Max(1, d / 16),
    FfnHidden = 4 * d, Position = PositionKind.Rope, Norm = NormKind.RmsNorm, Bias = false, VocabSize = exp.VocabSize,
    Parametrization = mupBase > 0 ? Parametrization.Mup : Parametrization.Sp, MupBaseWidth = mupBase, MupBaseHeadDim = mupBase > 0 ? 16 : 0,
};
var sizes = widths.Select(d => ModelSummary.Of(Shape(d))).ToArray();
long perStep = (long)batch * context, trainTokens;
using (var file = TokenFile.Open(exp.TokenFile, checkIds: false)) trainTokens = file.TrainTokens;
var flops = sizes.Select(s => s.FlopsPerToken()).ToArray();
var nonLookup = sizes.Select(s => (double)(s.TotalParameters - s.LookupParameters)).ToArray(); // N, as FLOPs per token counts it
var design = IsoFlopDesign.Plan(budgets, flops, perStep, minSteps, trainTokens);
string Name(int size, int steps) => $"d{widths[size]}_s{steps}";
void Declare(IsoFlopRun r, string note = "")
{
    Console.WriteLine($"{Name(r.Size, r.Steps)}: N {nonLookup[r.Size]:N0}, {(long)r.Steps * perStep:N0} tokens " +
                      $"= {(double)r.Steps * perStep / trainTokens:0.###} epochs, C {r.Compute:0.###e+0} (budget {r.Level:0.#e+0}){note}");
    exp.Variant(Name(r.Size, r.Steps), Shape(widths[r.Size]), RunRecipes.ShortRun(r.Steps, lr, batch, context), seeds: 1);
}
ScalingRun PointOf(RunData run) => ScalingRun.Of(sizes[Array.IndexOf(widths, int.Parse(run.Variant[1..run.Variant.IndexOf('_')]))],
    RunRow.Of(run).Tokens, RunRow.Of(run).FinalValLoss ?? throw new InvalidDataException($"{run.Folder} has no validation loss"));

// ---- 1. the IsoFLOP runs, fitted both ways ----
foreach (var r in design) Declare(r);
exp.Run();
var points = exp.Runs.Select(PointOf).ToList();
var fit = ChinchillaFit.Fit(points, new ChinchillaFitOptions { Resamples = exp.Smoke ? 20 : 200 });
Console.WriteLine($"approach 3 on {points.Count} runs: E {fit.E}, A {fit.A}, B {fit.B}, α {fit.Alpha}, β {fit.Beta}; a = {fit.ParameterExponent}, b = {fit.TokenExponent}");
IsoFlopFit iso = null;
try { iso = IsoFlopFit.Fit(points, log10Tolerance: 0.02, resamples: exp.Smoke ? 20 : 1000); }
catch (ArgumentException e) { Console.WriteLine($"approach 2 not fitted: {e.Message}"); }
if (iso is not null)
    Console.WriteLine($"approach 2 on {iso.Profiles.Count} profiles: a = {iso.ParameterExponent}, b = {iso.TokenExponent} (residual bootstrap, " +
                      $"{iso.DroppedResamples} resamples dropped){string.Concat(iso.Skipped.Select(s => $"\n  skipped: {s}"))}");
Console.WriteLine($"against Chinchilla a ≈ b ≈ 0.5 and Besiroglu et al. 2024 a = {ChinchillaLaw.Besiroglu2024.ParameterExponent:F3}, b = {ChinchillaLaw.Besiroglu2024.TokenExponent:F3}");

// ---- 2. held out: the fit's compute-optimal size at k x the largest budget, predicted BEFORE it trains, then trained ----
var curve = IsoFlopDesign.FlopsPerTokenCurve(nonLookup.Zip(flops));
var held = exp.Knob("held_out", "2,4", "held-out budgets as multiples of the largest").Split(',').Select(k => int.Parse(k) * budgets[^1])
    .Select(c => IsoFlopDesign.NearestTo(fit.Law.ComputeOptimal(c, curve).Parameters, c, nonLookup, flops, perStep, minSteps, trainTokens))
    .DistinctBy(r => Name(r.Size, r.Steps)).Select(r =>
{
    Declare(r, $" (held out: the width nearest N* = {fit.Law.ComputeOptimal(r.Level, curve).Parameters:N0}, the fit's, that fits the data)");
    var p = ScalingRun.Of(sizes[r.Size], (double)r.Steps * perStep, double.NaN);
    var h = (Run: r, Law: fit.PredictLoss(p.Parameters, p.Tokens), One: fit.PredictRun(p.Parameters, p.Tokens));
    Console.WriteLine($"PREDICTED before training {Name(r.Size, r.Steps)}: val loss {h.Law} (the law's interval), {h.One} (one run's)");
    return h;
}).ToList();
exp.Run();
var measured = held.Select(h => (Run: PointOf(exp.Runs.Single(r => r.Variant == Name(h.Run.Size, h.Run.Steps))), h.Law, h.One)).ToList();
foreach (var (run, law, one) in measured)
    Console.WriteLine($"held-out N {run.Parameters:N0}, C {run.Compute:0.##e+0}: predicted {law}, measured {run.Loss:F4}, error {(law.Estimate - run.Loss) / run.Loss:+0.0%;-0.0%}, " +
                      $"{(law.Contains(run.Loss) ? "inside" : "outside")} the law's 95 % interval (goal: within 2 % and inside), {(one.Contains(run.Loss) ? "inside" : "outside")} one run's {one}");

// ---- 3. what a budget buys, and the figures ----
Console.WriteLine("\n" + ComputeBudgets.Table(fit, [(1e14, "~20 min of this 2-core CPU"), (1e17, "~1 GPU-hour at 30 TFLOP/s"),
    (ComputeBudgets.OneH100Day, "one H100-day at 40 % MFU")], held.Max(h => h.Run.Level)));
Console.WriteLine(Charts.Save(ScalingFigures.LossVsCompute(fit, curve, measured.Select(m => (m.Run, m.One)).ToList(), iso), Path.Combine(exp.Folder, "scaling_frontier.png")));
if (iso is not null) Console.WriteLine(Charts.Save(ScalingFigures.IsoFlopCurves(iso), Path.Combine(exp.Folder, "scaling_isoflop.png")));
Console.WriteLine(Charts.Save(ScalingFigures.Residuals(fit, measured.Select(m => m.Run).ToList()), Path.Combine(exp.Folder, "scaling_residuals.png")));

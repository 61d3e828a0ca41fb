// Scaling law from small runs (Chinchilla approach 3, Hoffmann et al. 2022; refit by Besiroglu et al. 2024):
// train a grid of model sizes x token budgets, fit L(N, D) = E + A/N^α + B/D^β on all runs but the largest-compute
// one, print that run's predicted loss with its bootstrap interval BEFORE training it, then train it and compare.
// Approach 2 (IsoFLOP parabolas) is printed as a cross-check where the grid brackets an optimum.
// Corpus: the .NET SDK's XML documentation as text (dotnet_docs), large enough that no run repeats data.
// Run:   dotnet script experiments/scaling_law.csx        Smoke: dotnet script experiments/scaling_law.csx -- --smoke
// Cost: 5 sizes x 3 budgets (the held-out run among them), one seed each (the fit's bootstrap gives the intervals,
// so --seeds is not used); not yet measured at the defaults on the 2-core box.
#load "../lmharness.csx"
using LMHarness.Config;
using LMHarness.Data;
using LMHarness.Experiments;
using LMHarness.Reports;
using LMHarness.Runs;
using LMHarness.ScalingLaws;
using LMHarness.Summary;
using LMHarness.Training;

var exp = new Experiment("scaling_law", Args);

// ---- knobs ----
int context  = exp.Knob("context", 64);
int batch    = exp.Knob("batch", 16);
double lr    = exp.Knob("lr", 3e-3);
int layers   = exp.Knob("layers", 2);
int[] widths = exp.Knob("widths", "32,48,64,96,128").Split(',').Select(int.Parse).ToArray(); // d_model of each size
int[] budget = exp.Knob("steps", "150,300,600").Split(',').Select(int.Parse).ToArray();       // token budgets, in steps
exp.UseCorpus(exp.Knob("corpus", "dotnet_docs", "corpus name or path, prepared with the char tokenizer"));  // ~3.5M characters: the largest default budget is 0.17 epochs

ModelConfig Shape(int d) => new()
{
    ContextLength = context, NLayer = layers, DModel = d, NHead = Math.Max(1, d / 16), NKvHead = Math.Max(1, d / 16),
    FfnHidden = 4 * d, Position = PositionKind.Rope, Norm = NormKind.RmsNorm, Bias = false,
};

// Every (size, budget) pair; the one with the most compute is held out and predicted.
var grid = (from d in widths from s in budget select (Name: $"d{d}_s{s}", Model: Shape(d), Steps: s)).ToList();
double Flops((string Name, ModelConfig Model, int Steps) v) =>
    ModelSummary.Of(v.Model with { VocabSize = exp.VocabSize }).FlopsPerToken() * v.Steps * batch * context;
var heldOut = grid.MaxBy(Flops);
long trainTokens;
using (var file = TokenFile.Open(exp.TokenFile, checkIds: false)) trainTokens = file.TrainTokens;
foreach (var v in grid)
{
    long tokens = (long)v.Steps * batch * context;
    Console.WriteLine($"{v.Name}: {exp.ParameterCount(v.Model):N0} params, {tokens:N0} tokens = {(double)tokens / trainTokens:0.###} epochs, " +
                      $"{Flops(v):0.##e+0} FLOPs{(v == heldOut ? " (held out)" : "")}");
}

ScalingRun PointOf(RunData run)
{
    var v = grid.Single(g => g.Name == run.Variant);
    var row = RunRow.Of(run);
    return ScalingRun.Of(ModelSummary.Of(v.Model with { VocabSize = exp.VocabSize }), row.Tokens,
                         row.FinalValLoss ?? throw new InvalidDataException($"{run.Folder} has no validation loss"));
}

// ---- 1. the fitting runs ----
foreach (var v in grid.Where(g => g != heldOut))
    exp.Variant(v.Name, v.Model, RunRecipes.ShortRun(v.Steps, lr, batch, context), seeds: 1);
exp.Run();
var points = exp.Runs.Select(PointOf).ToList();
var fit = ChinchillaFit.Fit(points, new ChinchillaFitOptions { Resamples = exp.Smoke ? 20 : 200 });
Console.WriteLine($"fit on {points.Count} runs: E {fit.E}, A {fit.A}, B {fit.B}, α {fit.Alpha}, β {fit.Beta}");
Console.WriteLine($"compute-optimal exponents: N* ∝ C^a, a = {fit.ParameterExponent}; D* ∝ C^b, b = {fit.TokenExponent} " +
                  $"(Chinchilla ~0.5 each; Besiroglu et al. 2024: a = {ChinchillaLaw.Besiroglu2024.ParameterExponent:F3})");
try
{
    var iso = IsoFlopFit.Fit(points, log10Tolerance: 0.15);
    Console.WriteLine($"approach 2 (IsoFLOP): a = {iso.ParameterExponent:F3}, b = {iso.TokenExponent:F3} over {iso.Profiles.Count} profiles");
}
catch (ArgumentException e) { Console.WriteLine($"approach 2 (IsoFLOP) not fitted: {e.Message}"); }

// ---- 2. predict the held-out run, then train it ----
var heldSummary = ModelSummary.Of(heldOut.Model with { VocabSize = exp.VocabSize });
long heldTokens = (long)heldOut.Steps * batch * context;
var predicted = fit.PredictLoss(heldSummary.TotalParameters - heldSummary.LookupParameters, heldTokens);
Console.WriteLine($"PREDICTED before training {heldOut.Name}: val loss {predicted}");
exp.Variant(heldOut.Name, heldOut.Model, RunRecipes.ShortRun(heldOut.Steps, lr, batch, context), seeds: 1);
exp.Run();
double actual = PointOf(exp.Runs.Single(r => r.Variant == heldOut.Name)).Loss;
double error = (predicted.Estimate - actual) / actual;
Console.WriteLine($"held-out {heldOut.Name}: predicted {predicted}, actual {actual:F4}, error {error:+0.0%;-0.0%}, " +
                  $"{(predicted.Contains(actual) ? "inside" : "outside")} the 95 % interval; goal: within 2 % and inside.");

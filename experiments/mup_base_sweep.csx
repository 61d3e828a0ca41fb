// Tune the whole base, not only its learning rate. Tensor Programs V (Yang et al. 2022, §4) tunes every base
// hyperparameter on the narrow model and carries them all to the wide one. mup_transfer.csx tuned only the rate: it
// transferred (1.6e-2 best at every d_model 32..256), yet SP tuned at d_model 256 beat μP transferred (2.161 vs 2.266).
// Here, in mup_transfer's family (4 layers, SwiGLU, RoPE, untied head, 200 steps x 512 characters of TinyShakespeare):
// at the base d_model 32 under μP, a grid of init_std x output multiplier (mup_output_multiplier) at the transferred
// rate, 3 seeds, grown by 2x past any edge its best sits on; then the rate again at that point (one round of coordinate
// descent); then d_model 256 at the base's best, against d_model 256 at μP's defaults (init_std 0.02, multiplier 1)
// and against SP at its own best rate there (1e-3), 3 seeds each.
// Out (runs/mup_base_sweep/): the grid's mean final val losses, the two wide comparisons with intervals, comparison files.
// Cost: 35 grid points (5 x 7 after growing) + 4 rates at the base, 3 wide variants, 3 seeds each: 10.3 min measured on
// the idle 2-core box. --smoke: a 2 x 2 grid, 5 rates, 1 seed.
// Run:   ./lmh experiments/mup_base_sweep.csx          Smoke: ./lmh experiments/mup_base_sweep.csx -- --smoke
#load "../lmharness.csx"
using LMHarness.Config;
using LMHarness.Experiments;
using LMHarness.Reports;

var exp = new Experiment("mup_base_sweep", Args);

// ---- knobs ----
int baseWidth = exp.Knob("base", 32), wide = exp.Knob("wide", 256), steps = exp.Knob("steps", 200);
int nLayer = exp.Knob("n_layer", 4), nHead = exp.Knob("n_head", 4), context = exp.Knob("context", 64), batch = exp.Knob("batch", 8);
double lr = exp.Knob("lr", 1.6e-2, "the rate mup_transfer.csx found best at every width under μP");
double spLr = exp.Knob("sp_lr", 1e-3, "the rate mup_transfer.csx found best for SP at the widest");
double[] Grid(string name, string values) => exp.Knob(name, exp.Smoke ? string.Join(',', values.Split(',').Take(2)) : values)
    .Split(',').Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
double[] stds = Grid("init_stds", "0.02,0.01,0.04"), multipliers = Grid("output_multipliers", "1,0.5,2,4");

// ---- the family: mup_transfer.csx's, under μP with base d_model 32 ----
ModelConfig Model(int width, double std, double multiplier) => new()
{
    ContextLength = context, NLayer = nLayer, DModel = width, NHead = nHead, NKvHead = nHead, FfnHidden = 8 * width / 3 / 8 * 8,
    AttentionKinds = [AttentionKind.Mha], FeedForwardKinds = [FeedForwardKind.SwiGlu], Position = PositionKind.Rope,
    Norm = NormKind.RmsNorm, Bias = false, TieEmbeddings = false, InitStd = std,
    Parametrization = Parametrization.Mup, MupBaseWidth = baseWidth, MupOutputMultiplier = multiplier == 1 ? 0 : multiplier,
};
var training = RunRecipes.ShortRun(steps, lr, batch, context) with { EvalInterval = steps, EvalBatches = 16, GradFlowInterval = 0 };
string Name(int width, double std, double m, double rate) => FormattableString.Invariant($"d{width}_std{std}_x{m}{(rate == lr ? "" : $"_lr{rate}")}");
TrainingConfig At(double rate) => training with { LearningRate = rate, MinLearningRate = rate / 10 };
double[] Grown(double[] grid, double at) => at == grid.Max() ? [.. grid, at * 2] : at == grid.Min() ? [.. grid, at / 2] : grid;

// ---- 1. the base grid at the transferred rate, grown by a factor 2 past any edge its best sits on (at most 3 times) ----
var declared = new HashSet<string>();
SampleStats Final(string variant) => SampleStats.Of(exp.Runs.Where(r => r.Variant == variant).Select(r => RunRow.Of(r).FinalValLoss ?? double.NaN));
(double Std, double M) best;
for (var grow = 0; ; grow++)
{
    foreach (var s in stds)
        foreach (var m in multipliers)
            if (declared.Add(Name(baseWidth, s, m, lr))) exp.Variant(Name(baseWidth, s, m, lr), Model(baseWidth, s, m), training);
    exp.Run();
    best = stds.SelectMany(s => multipliers.Select(m => (s, m))).MinBy(x => Final(Name(baseWidth, x.s, x.m, lr)).Mean);
    var (s2, m2) = (Grown(stds, best.Std), Grown(multipliers, best.M));
    if (grow == 3 || exp.Smoke || (s2.Length == stds.Length && m2.Length == multipliers.Length)) break;
    (stds, multipliers) = (s2, m2);
}
Console.WriteLine($"\nbase d_model {baseWidth}, final val loss (mean of {exp.Seeds} seeds) by init_std (rows) x output multiplier (columns):");
Console.WriteLine("| init_std | " + string.Join(" | ", multipliers.Order().Select(m => $"x{m}")) + " |\n|---|" + string.Concat(multipliers.Select(_ => "---|")));
foreach (var s in stds.Order()) Console.WriteLine($"| {s} | " + string.Join(" | ", multipliers.Order().Select(m => $"{Final(Name(baseWidth, s, m, lr)).Mean:F4}")) + " |");
var (bestStd, bestM) = best;
Console.WriteLine($"best at the base: init_std {bestStd}, output multiplier {bestM} ({Final(Name(baseWidth, bestStd, bestM, lr)).Mean:F4})");

// ---- 1b. then the rate again, at that init_std and multiplier (one round of coordinate descent), grown likewise ----
double[] rates = [lr / 4, lr / 2, lr, 2 * lr, 4 * lr];
double bestRate;
for (var grow = 0; ; grow++)
{
    foreach (var r in rates)
        if (declared.Add(Name(baseWidth, bestStd, bestM, r))) exp.Variant(Name(baseWidth, bestStd, bestM, r), Model(baseWidth, bestStd, bestM), At(r));
    exp.Run();
    bestRate = rates.MinBy(r => Final(Name(baseWidth, bestStd, bestM, r)).Mean);
    if (grow == 3 || exp.Smoke || Grown(rates, bestRate).Length == rates.Length) break;
    rates = Grown(rates, bestRate);
}
Console.WriteLine($"rates at init_std {bestStd}, multiplier {bestM}: " + string.Join(", ", rates.Order().Select(r => $"{r:0.####} {Final(Name(baseWidth, bestStd, bestM, r)).Mean:F4}")) + $"; best {bestRate}");

// ---- 2. the widest model at the base's best, against μP's defaults and against SP tuned at that width ----
var (tuned, plain, sp) = (Name(wide, bestStd, bestM, bestRate), Name(wide, stds[0], multipliers[0], lr), $"sp_d{wide}");
exp.Variant(plain, Model(wide, stds[0], multipliers[0]), training);
if (tuned != plain) exp.Variant(tuned, Model(wide, bestStd, bestM), At(bestRate));
exp.Variant(sp, Model(wide, 0.02, 1) with { Parametrization = Parametrization.Sp, MupBaseWidth = 0 }, At(spLr));
exp.Run();
foreach (var (other, what) in new[] { (plain, "μP's defaults"), (sp, $"SP at its own best rate {spLr}") })
    Console.WriteLine($"d_model {wide}: base-tuned μP {Final(tuned).Mean:F4} against {what} {Final(other).Mean:F4}" + (WelchTest.Of(Final(tuned), Final(other)) is { } w
        ? $": difference {w.Difference:+0.000;-0.000} [{w.CiLow:+0.000;-0.000}, {w.CiHigh:+0.000;-0.000}], Welch p {(w.P < 0.001 ? "< 0.001" : $"= {w.P:0.###}")}" : ""));

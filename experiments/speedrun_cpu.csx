// CPU speedrun: how fast can we reach nanoGPT's quality? Target: the val loss over the whole val split of
// TinyShakespeare chars that nanoGPT's own CPU run (replayed draw for draw: recipe nanogpt-cpu-replay) reaches after
// its 2,000 steps, 1.8990 (so nanoGPT's time to target is its whole run). Beside it, in the same invocation (about
// the same machine load), 3 seeds of a model of the same size with the GPT-2 speedrun's blocks (modded-nanogpt,
// Keller Jordan et al. 2024): Muon, RoPE, QK-norm, logit soft-cap, value embeddings, U-net skips, zero-init outputs,
// untied head, WSD schedule; its ReLU² MLP lost to GELU here (--ablation), so the MLP is a knob, GELU by default. Time = training seconds (train_s: evaluation excluded, reported apart) at the
// first evaluation ≤ the target: an upper bound, late by at most one --eval_every interval. docs/speedrun.md.
// Run:   dotnet script experiments/speedrun_cpu.csx        Smoke: dotnet script experiments/speedrun_cpu.csx -- --smoke
// Ablation (each trick removed once, --ablation_seeds each): dotnet script experiments/speedrun_cpu.csx -- --ablation
// Cost (idle 2 cores): ~7.5 min: nanoGPT 2.5 min, each speedrun seed 1.5 min (half of it evaluating the whole split
// every 25 steps); --ablation adds 11 runs of ~1-2 min. Finished runs are reused; --fresh retrains them.
#load "../lmharness.csx"
using LMHarness.Config;
using LMHarness.Experiments;
using LMHarness.IO;
using LMHarness.Plots;
using LMHarness.Reports;
using LMHarness.Training;

var exp = new Experiment("speedrun_cpu", Args);

// ---- knobs ----
double goal       = exp.Knob("target", 0.0);     // 0: nanoGPT's own final whole-split val loss (1.8990)
int steps         = exp.Knob("steps", 350);      // speedrun length (the WSD decay ends here)
int evalEvery     = exp.Knob("eval_every", 25);  // speedrun evaluations: the resolution of its time to target
double muonLr     = exp.Knob("muon_lr", 0.02);   // hidden matrices (Muon, momentum 0.95)
double adamLr     = exp.Knob("lr", 3e-3);        // embeddings, head, scalars (AdamW, betas 0.8/0.95, no decay)
bool ablation     = exp.Knob("ablation", false);
int ablationSeeds = exp.Knob("ablation_seeds", 1);
int ablationEval  = exp.Knob("ablation_eval_every", 50); // coarser: whole-split evaluations cost more than training here
var mlp = exp.Knob("relu2", false) ? FeedForwardKind.Relu2 : FeedForwardKind.Mlp; // GELU unless --relu2 true

// nanoGPT, replayed; its validation column is the whole split (its own 20-batch draws still happen, so it trains on
// exactly nanoGPT's batches). It evaluates at nanoGPT's eval_interval 250: the replay's draws depend on it.
var nano = RunRecipes.NanoGptCpuReplay();
exp.Variant("nanogpt", nano.Model, nano.Training with { GradFlowInterval = 0 },
    WholeSplitValidation.Of(nano.Stream), seeds: 1);

// The speedrun model: nanoGPT's size (4 layers, d 128, 4 heads, context 64, batch 12), modern blocks.
var model = nano.Model with
{
    Position = PositionKind.Rope, Norm = NormKind.RmsNorm, Bias = false, FeedForwardKinds = [mlp],
    FfnHidden = 512, AttentionKinds = [AttentionKind.Mha], QkNorm = true, LogitSoftcap = 15, ValueEmbeddings = true,
    SkipConnections = true, ZeroInitOutputs = true, TieEmbeddings = false,
};
var training = RunRecipes.NanoGptCpuTraining with
{
    Optimizer = OptimizerKind.Muon, MuonLearningRate = muonLr, MuonMomentum = 0.95, LearningRate = adamLr,
    Beta1 = 0.8, Beta2 = 0.95, WeightDecay = 0, Schedule = ScheduleKind.WarmupStableDecay, DecayFraction = 0.4,
    WarmupSteps = 20, MinLearningRate = 0, MaxSteps = steps, EvalInterval = evalEvery, EvalBatches = 10,
    GradFlowInterval = 0, CheckpointInterval = 0,
};
exp.Variant("speedrun", model, training, WholeSplitValidation.Of(HarnessStream.Instance));

if (ablation) // each trick removed on its own; everything else as above (evaluation aside: it does not change training)
    foreach (var (name, m, t) in new (string, ModelConfig, TrainingConfig)[]
    {
        ("no_muon", model, training with { Optimizer = OptimizerKind.AdamW }),   // AdamW 3e-3 for the matrices too
        ("no_wsd", model, training with { Schedule = ScheduleKind.Cosine }),     // cosine to 0 after the same warm-up
        (mlp == FeedForwardKind.Mlp ? "relu2" : "gelu", model with { FeedForwardKinds = [mlp == FeedForwardKind.Mlp ? FeedForwardKind.Relu2 : FeedForwardKind.Mlp] }, training), // the other MLP, same width
        ("no_rope", model with { Position = PositionKind.Learned }, training),
        ("no_rmsnorm", model with { Norm = NormKind.LayerNorm }, training),
        ("no_qk_norm", model with { QkNorm = false }, training),
        ("no_softcap", model with { LogitSoftcap = 0 }, training),
        ("no_value_emb", model with { ValueEmbeddings = false }, training),
        ("no_skips", model with { SkipConnections = false }, training),
        ("no_zero_init", model with { ZeroInitOutputs = false }, training),
        ("tied_head", model with { TieEmbeddings = true }, training),
    })
        exp.Variant(name, m, t with { EvalInterval = ablationEval }, WholeSplitValidation.Of(HarnessStream.Instance), seeds: ablationSeeds);

exp.Run();

// ---- time to target: table, plot, the speedup line ----
double target = goal > 0 ? goal : RunRow.Of(exp.Runs[0]).FinalValLoss!.Value;
var times = TimeToTarget.Of(exp.Runs, target);
var table = TimeToTarget.Markdown(times, times[0], target);
AtomicFile.WriteAllText(Path.Combine(exp.Folder, "time_to_target.md"), table);
Console.WriteLine($"\n{table}\nplot: {Charts.Save(TimeToTarget.Chart(exp.Runs, target), Path.Combine(exp.Folder, "val_vs_train_time.png"))}");
Console.WriteLine(exp.Smoke ? "speedup vs nanoGPT: n/a (smoke)" : TimeToTarget.SpeedupLine(times[0], times[1], target, "nanoGPT"));

// nanoGPT's CPU run, reproduced (github.com/karpathy/nanoGPT, README "I only have a macbook"):
//   python train.py config/train_shakespeare_char.py --device=cpu --compile=False --eval_iters=20 --log_interval=1
//     --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128 --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0
// nanoGPT reports val loss ~1.88 after 2000 iterations. Beside it: the same recipe with Llama blocks at equal parameters.
// Default here: 300 steps (minutes on 2 cores); --steps 2000 for the full run.
// --replay: the nanoGPT variant draws its initial weights and batches from torch's generator as nanoGPT does; with
//   --steps 2000 --eval_interval 250 --seeds 1 it logs nanoGPT's own run number for number (val 1.8857 at step 2000).
// Run:   dotnet script experiments/nanogpt_cpu.csx        Smoke: dotnet script experiments/nanogpt_cpu.csx -- --smoke
// Seeds: 3 per variant by default (~2 min on an idle 2-core box, 1.5x the old 2-seed default): the fewest that give a
// usable 95% interval (with 2, t(0.975, 1) = 12.7); --seeds 6 narrows it to 0.42x (t/√n: 2.57/√6 vs 4.30/√3) for 2x the time.
#load "../lmharness.csx"
using LMHarness.Config;
using LMHarness.Experiments;
using LMHarness.Replay;
using LMHarness.Training;

var exp = new Experiment("nanogpt_cpu", Args);

// ---- knobs: nanoGPT's names in the comments ----
int steps        = exp.Knob("steps", 300);         // max_iters (= lr_decay_iters)
int evalInterval = exp.Knob("eval_interval", 100); // eval_interval
int evalBatches  = exp.Knob("eval_batches", 20);   // eval_iters
bool llama       = exp.Knob("llama", true);        // also train the Llama-block twin
bool replay      = exp.Knob("replay", false);      // nanoGPT variant follows nanoGPT's random stream (seed 1337 + k)

// The published settings live in the core (RunRecipes.NanoGptCpu: preset nanogpt-cpu + train_shakespeare_char.py);
// only the run length and the evaluation cadence change here.
TrainingConfig Shorter(TrainingConfig t) => t with
{
    MaxSteps = steps, WarmupSteps = Math.Min(t.WarmupSteps, steps / 5), EvalInterval = evalInterval,
    EvalBatches = evalBatches, GradFlowInterval = Math.Max(1, steps / 2), CheckpointInterval = 0,
};
var gpt = RunRecipes.NanoGptCpu();
exp.Variant("nanogpt", gpt.Model,
    Shorter(gpt.Training), replay ? NanoGptStream.Instance : null);
if (llama)
{
    var twin = RunRecipes.LlamaCpu();
    exp.Variant("llama", twin.Model, Shorter(twin.Training));
}

var report = exp.Run();
foreach (var row in report.Rows)
    Console.WriteLine($"{row.Variant} seed{row.Seed}: val loss {row.FinalValLoss:F4} after {row.Tokens:N0} tokens in {row.WallSeconds:F0} s (nanoGPT: ~1.88 after 2000 steps = 1,536,000 tokens)");

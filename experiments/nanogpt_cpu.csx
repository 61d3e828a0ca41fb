// nanoGPT's CPU run, reproduced (github.com/karpathy/nanoGPT, README "I only have a macbook"):
//   python train.py config/train_shakespeare_char.py --device=cpu --compile=False --eval_iters=20 --log_interval=1
//     --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128 --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0
// nanoGPT reports val loss ~1.88 after 2000 iterations. Default here: 500 (minutes on 2 cores); --steps 2000 for the full run.
// Run:   ./lmh experiments/nanogpt_cpu.csx        Smoke: ./lmh experiments/nanogpt_cpu.csx --smoke
#r "../core/LMHarness.Core/bin/Release/net10.0/linux-x64/LMHarness.Core.dll"
#r "../core/LMHarness.Core/bin/Release/net10.0/linux-x64/TorchSharp.dll"
using LMHarness.Config;
using LMHarness.Experiments;
using LMHarness.Training;

var exp = new Experiment("nanogpt_cpu", Args);

// ---- knobs: nanoGPT's names in the comments ----
int steps   = exp.Knob("steps", 500);        // max_iters (and lr_decay_iters)
int context = exp.Knob("context", 64);       // block_size
int batch   = exp.Knob("batch", 12);         // batch_size
double lr   = exp.Knob("lr", 1e-3);          // learning_rate
int evalInterval = exp.Knob("eval_interval", 100);

// GPT-2 architecture as in nanoGPT's model.py: learned positions, LayerNorm, GELU MLP (4x), tied embeddings, no bias.
var model = new ModelConfig
{
    VocabSize = exp.VocabSize, ContextLength = context, NLayer = 4, NHead = 4, NKvHead = 4, DModel = 128, FfnHidden = 512,
    AttentionKinds = [AttentionKind.Mha], FeedForwardKinds = [FeedForwardKind.Mlp], Position = PositionKind.Learned,
    Norm = NormKind.LayerNorm, Bias = false, Dropout = 0.0, TieEmbeddings = true,
};
// train_shakespeare_char.py: AdamW betas (0.9, 0.99), weight decay 0.1, warmup 100, cosine to lr/10, grad clip 1.0.
var training = new TrainingConfig
{
    Optimizer = OptimizerKind.AdamW, LearningRate = lr, MinLearningRate = lr / 10, WarmupSteps = Math.Min(100, steps / 5),
    Schedule = ScheduleKind.Cosine, Beta1 = 0.9, Beta2 = 0.99, WeightDecay = 0.1, GradClip = 1.0, MaxSteps = steps,
    MicroBatch = batch, ContextLength = context, EvalInterval = evalInterval, EvalBatches = 10, LogInterval = 10,
    GradFlowInterval = Math.Max(1, steps / 2), CheckpointInterval = 0,
};

exp.Variant("nanogpt", model, training);

var report = exp.Run();
if (report.Best is { } best)
    Console.WriteLine($"val loss {best.ValLoss:F4} after {steps} steps (nanoGPT: ~1.88 after 2000).");

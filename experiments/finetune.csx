// Fine-tuning against training from scratch: nanoGPT's finetune_shakespeare in miniature. A small Llama-style model
// is pretrained on the default corpus (.NET SDK docs) with GPT-2 tokens, then fine-tuned on TinyShakespeare (GPT-2
// tokens) with init_from; the same model trained from scratch on TinyShakespeare for the same steps is the baseline.
// Run:   dotnet script experiments/finetune.csx        Smoke: dotnet script experiments/finetune.csx -- --smoke
// Seeds: 3 per variant by default (the fine-tuned seeds share the one pretrained model: their batches and dropout differ).
// Cost: the defaults (600 pretraining steps + 3 seeds x 2 variants x 100 steps) take about 18 min on an idle 2-core
// box, estimated from parts timed alone (~1,700 tokens/s: GPT-2's 50,257-id head dominates); --smoke about 5 min on a
// shared box (the first call also tokenizes both corpora). Result (docs/training.md): fine-tuned 5.637 [5.612, 5.662] vs scratch 6.189 [5.975, 6.403].
#load "../lmharness.csx"
using LMHarness.Config;
using LMHarness.Corpora;
using LMHarness.Experiments;
using LMHarness.Generation;
using LMHarness.Interop;
using TorchSharp;

bool help = Args.Contains("--help");
// The fine-tuning data is TinyShakespeare with GPT-2 tokens unless --data names another token file.
var args = Args.Contains("--data") || help ? Args.ToList() : [.. Args, "--data", Corpus.Prepared("tinyshakespeare", "gpt2")];
var exp = new Experiment("finetune", args);

// ---- knobs ----
int pretrainSteps = exp.Knob("pretrain_steps", 600, "steps of pretraining on the default corpus");
int steps         = exp.Knob("steps", 100, "steps of fine-tuning, and of the from-scratch baseline");
int context       = exp.Knob("context", 64);
int batch         = exp.Knob("batch", 16);
int dModel        = exp.Knob("d_model", 128);
int nLayer        = exp.Knob("n_layer", 4);
double lr         = exp.Knob("lr", 3e-3, "pretraining and from-scratch peak learning rate");
double tuneLr     = exp.Knob("tune_lr", 1e-3, "fine-tuning peak learning rate (a pretrained model wants a gentler one)");
double dropout    = exp.Knob("dropout", 0.1, "dropout while fine-tuning (the pretrained model trains without)");
string prompt     = exp.Knob("prompt", "ROMEO:", "the prompt of each model's sample");

// Llama-style: RMSNorm, RoPE, SwiGLU, no biases, tied embeddings.
var model = new ModelConfig
{
    ContextLength = context, NLayer = nLayer, DModel = dModel, NHead = 4, NKvHead = 4, FfnHidden = 8 * dModel / 3 / 8 * 8,
    Position = PositionKind.Rope, Norm = NormKind.RmsNorm, FeedForwardKinds = [FeedForwardKind.SwiGlu], Bias = false,
};

// ---- 1. pretrain once, on another corpus with the same tokenizer (its own experiment folder, reused when done) ----
string pretrainData = help ? "" : Corpus.Prepared("default", "gpt2");
var pretrainArgs = new List<string> { "--data", pretrainData, "--seeds", "1", "--out", Path.GetDirectoryName(exp.Smoke ? Path.GetDirectoryName(exp.Folder)! : exp.Folder)! };
if (exp.Smoke) pretrainArgs.Add("--smoke");
if (exp.Fresh) pretrainArgs.Add("--fresh");
if (exp.Dtype is { } dtype) pretrainArgs.AddRange(["--dtype", dtype.ToString()]); // the whole recipe in the dtype asked for
var pretrain = help ? null : new Experiment("finetune_pretrain", pretrainArgs);
pretrain?.Variant("base", model, RunRecipes.ShortRun(pretrainSteps, lr, batch, context));
pretrain?.Run();
string source = pretrain?.RunFolder("base", 0) ?? "(the pretrained run)";

// ---- 2. fine-tune it, and train the same model from scratch, on TinyShakespeare for the same steps ----
// Five evaluations a run (not ShortRun's ten): the curves still show the gap, and evaluation costs half as much.
TrainingConfig Run(double rate) => RunRecipes.ShortRun(steps, rate, batch, context) with { EvalInterval = Math.Max(1, steps / 5) };
exp.Variant("finetuned", model with { Dropout = dropout }, Run(tuneLr) with { InitFrom = source });
exp.Variant("scratch", model with { Dropout = dropout }, Run(lr));
var report = exp.Run();

// ---- 3. a sample from each (seed 0 of each variant, and the pretrained model), the same sampler seed ----
var options = new SamplingOptions { MaxNewTokens = exp.Smoke ? 16 : 120, Temperature = 0.8, TopK = 40, Seed = 1 }.Validated();
foreach (var (name, path) in new[] { ("pretrained", source), ("finetuned", exp.RunFolder("finetuned", 0)), ("scratch", exp.RunFolder("scratch", 0)) })
{
    var loaded = ModelSource.Load(path);
    var generator = new Generator(loaded.Model.to(LMHarness.Devices.Default()), ModelSource.TokenizerFor(loaded, null));
    Console.WriteLine($"---- {name} ({path}) ----");
    Console.WriteLine(generator.Generate(prompt, options).Text);
    loaded.Model.Dispose();
}
Console.WriteLine(report.Headline);

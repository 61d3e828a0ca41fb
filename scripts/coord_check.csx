// The coordinate check (Tensor Programs V, section 7; microsoft/mup's coord_check): is μP implemented right?
// Trains the same small Llama-style model at d_model 64, 128, ..., 1024 under SP and under μP (base = the narrowest)
// for a few AdamW steps at a large rate, on the same TinyShakespeare batches, and records at every step the mean |x| of
// the embedding output, each block's attention and MLP outputs, and the logits. Under μP each stays flat in width; under
// SP the hidden outputs and the logits grow with it. Writes coord_check.csv, coord_check.png (SP beside μP, mean |x|
// against d_model on log-log axes at the last step) and prints each coordinate's log-log slope per step.
//   ./lmh scripts/coord_check.csx -- --out runs/coord_check          (~30 s on the 2-core box; --widths 64,128,256 for less)
#load "../lmharness.csx"
using LMHarness.Config;
using LMHarness.Coordinates;
using LMHarness.Corpora;
using LMHarness.Experiments;

var a = new ScriptArgs(Args);
int[] widths  = a.Get("widths", "64,128,256,512,1024", "d_model of each model (the first is μP's base width)").Split(',').Select(int.Parse).ToArray();
int steps     = a.Get("steps", 5, "AdamW steps per model (the forward of step 1 is at initialisation)");
double lr     = a.Get("lr", 1e-2, "peak learning rate: large, as mup's check, so that the first updates dominate the init");
int nLayer    = a.Get("n_layer", 2, "blocks");
int batch     = a.Get("batch", 8, "sequences per step");
int context   = a.Get("context", 64, "tokens per sequence");
string output = a.Get("out", "runs/coord_check", "folder for coord_check.csv and coord_check.png");
a.EnsureAllUsed("scripts/coord_check.csx");

var tokens = Corpus.Prepared("tinyshakespeare", "char");
ModelConfig Model(int width, Parametrization p) => new()
{
    VocabSize = 65, ContextLength = context, NLayer = nLayer, DModel = width, NHead = 4, NKvHead = 4, FfnHidden = 8 * width / 3 / 8 * 8,
    AttentionKinds = [AttentionKind.Mha], FeedForwardKinds = [FeedForwardKind.SwiGlu], Position = PositionKind.Rope,
    Norm = NormKind.RmsNorm, Bias = false, TieEmbeddings = false,
    Parametrization = p, MupBaseWidth = p == Parametrization.Mup ? widths[0] : 0,
};
// No weight decay, no schedule: only the parametrization differs between the two panels.
var training = new TrainingConfig { LearningRate = lr, WeightDecay = 0, Seed = 1337 };

var records = CoordinateCheck.Run(Model, widths, [Parametrization.Sp, Parametrization.Mup], training, steps,
    CoordinateCheck.Batches(tokens, batch, context, steps, seed: 1337));

Directory.CreateDirectory(output);
File.WriteAllText(Path.Combine(output, "coord_check.csv"), CoordinateCheckReport.Csv(records));
for (int s = 1; s <= steps; s++) Console.WriteLine(CoordinateCheckReport.SlopeTable(records, s));
Console.WriteLine("wrote " + Path.Combine(output, "coord_check.csv"));
Console.WriteLine("wrote " + CoordinateCheckReport.Figure(records, steps, Path.Combine(output, "coord_check.png")));

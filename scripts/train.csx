// Train one model into a run folder, then plot it. Every field of ModelConfig and TrainingConfig is a knob, by its
// JSON name (--help lists them with their defaults): edit the defaults below, or override on the command line, e.g.
//   dotnet script scripts/train.csx -- --preset nanogpt-cpu --max_steps 300 --n_layer 6 --position rope --optimizer muon --dtype bf16
// context_length sets both the model's and the training one. Running again on the same --out resumes from its
// checkpoint; a finished run says so and changes nothing; a larger --max_steps extends it. --replay nanogpt follows
// nanoGPT's random stream; --overwrite trains into a folder that holds something else. --init_from PATH starts from a
// pretrained model (an HF folder, a harness export, a run folder or a step_*.ckpt) built from the source's config.
#load "../lmharness.csx"
using LMHarness.Config;
using LMHarness.Corpora;
using LMHarness.Data;
using LMHarness.Experiments;
using LMHarness.Interop;
using LMHarness.Replay;
using LMHarness.Reports;
using LMHarness.Terminal;
using LMHarness.Training;

var a = new ScriptArgs(Args);
// ---- top of the file: the defaults ----
string preset    = a.Get("preset", "nanogpt-cpu", "a preset (Presets.Names); its fields are the model defaults below");
string data      = a.Get("data", "tinyshakespeare", "a corpus spec (see prepare.csx) or a prepared .bin");
string tokenizer = a.Get("tokenizer", "char", "tokenizer for a corpus spec");
string replay    = a.Get("replay", "none", "none | nanogpt (nanoGPT's random stream)");
bool overwrite   = a.Get("overwrite", false, "train into a folder that holds something else");
ModelConfig model = Presets.Get(preset);
TrainingConfig training = RunRecipes.NanoGptCpuTraining with { MaxSteps = 500, EvalInterval = 100, EvalBatches = 20 };

// ---- command-line overrides of any config field ----
(model, var m) = ConfigOverrides.Apply(model, a, ModelConfig.Json);          // e.g. --n_layer 6 --position rope
(training, _) = ConfigOverrides.Apply(training, a, TrainingConfig.Json);      // e.g. --max_steps 300 --dtype bf16
string output = a.Get("out", Path.Combine(Experiment.RepoRoot(), "runs", "train", preset, $"seed{training.Seed}"), "the run folder");
a.EnsureAllUsed("scripts/train.csx");
IRunStream stream = replay switch
{
    "none" => HarnessStream.Instance,
    "nanogpt" => NanoGptStream.Instance,
    _ => throw new ArgumentException($"--replay {replay}: use none or nanogpt"),
};

string tokens = data.EndsWith(".bin") ? data : Corpus.Prepared(data, tokenizer);
if (training.InitFrom != "")  // --init_from PATH: the model is the source's; the model knobs given must not conflict with it
{
    (model, training, stream, var notes) = InitSource.Plan(model, m, training, tokens, stream);
    foreach (var note in notes) Console.WriteLine(note);
}
else using (var file = TokenFile.Open(tokens, checkIds: false))
    if (!m.Contains("vocab_size")) model = model with { VocabSize = file.Tokenizer.VocabSize };  // fit the head to the data
Console.WriteLine($"training {(training.InitFrom != "" ? "from " + training.InitFrom : preset)} ({Experiment.Parameters(model):N0} params) on {tokens} -> {output}");
var trainer = Trainer.For(model, training, tokens, output, stream);
trainer.Progress = TrainingProgressBar.ForConsole();
trainer.Overwrite = overwrite;
Console.WriteLine(trainer.Train());
Console.WriteLine(RunPage.Write(output));   // the run's own plots and report.html (compare.csx compares runs)

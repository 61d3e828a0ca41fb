// "Language as a signal": PCA trajectories of a prompt and its continuation through the token embeddings and the
// hidden state after each layer, as one PNG (rows: depths, columns: PC1-PC2 and PC2-PC3), plus per-token losses.
//   dotnet script scripts/trajectory.csx -- runs/shakespeare/base/seed0 --prompt "First Citizen:" --max 40 --out trajectory.png
#load "../lmharness.csx"
using LMHarness.Analysis;
using LMHarness.Experiments;
using LMHarness.Generation;
using LMHarness.Interop;
using LMHarness.Plots;
using TorchSharp;

var a = new ScriptArgs(Args);
string source = a.Argument("model", "a run folder, a step_*.ckpt, an HF checkpoint folder or a harness export");
string text   = a.Get("prompt", "First Citizen:", "the prompt");
int max       = a.Get("max", 40, "greedy continuation tokens (capped by the model's context)");
string output = a.Get("out", "trajectory.png", "the PNG to write");
string tokens = a.Get("tokenizer", "", "tokenizer when the source names none (char, gpt2, ...)");
a.EnsureAllUsed("scripts/trajectory.csx");

var loaded = ModelSource.Load(source);
var tokenizer = ModelSource.TokenizerFor(loaded, tokens);
var model = loaded.Model.to(LMHarness.Devices.Default());
var prompt = tokenizer.Encode(text);
var room = Math.Max(0, model.Config.ContextLength - prompt.Length);
var options = SamplingOptions.Greedy with { MaxNewTokens = Math.Min(max, room) };
var continuation = new Generator(model, tokenizer).GenerateIds(new[] { prompt }, options, true, null)[0];
Console.WriteLine(tokenizer.Decode(prompt) + continuation.Text);

var panels = Trajectory.Compute(model, tokenizer, prompt, continuation.Tokens);
foreach (var p in panels)
    Console.WriteLine($"{p.Name,-18} explained variance {string.Join(" ", p.ExplainedVarianceRatio.Select(v => v.ToString("P1")))}");
Console.WriteLine("wrote " + TrajectoryPlot.Save(panels, output));

Console.WriteLine("per-token loss of the prompt (nats):");
foreach (var t in Perplexity.PerToken(model, tokenizer, tokenizer.Decode(prompt)))
    Console.WriteLine($"  {TrajectoryPlot.Visible(t.Text),-12} {t.Loss,7:F3}");

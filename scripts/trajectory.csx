// "Language as a signal": PCA trajectories of a prompt and its continuation through the token embeddings and the
// hidden state after each layer, as one PNG (rows: depths, columns: PC1-PC2 and PC2-PC3), plus per-token losses.
// ./lmh scripts/trajectory.csx runs/shakespeare/base/seed0 --prompt "First Citizen:" --max 40 --out trajectory.png
#load "../lmharness.csx"
using LMHarness.Analysis;
using LMHarness.Generation;
using LMHarness.Interop;
using LMHarness.Plots;
using TorchSharp;

if (Args.Count == 0 || Args[0].StartsWith("--")) { Console.Error.WriteLine("usage: trajectory.csx <model> [--prompt TEXT] [--max N] [--out file.png] [--tokenizer NAME]"); return; }
string Opt(string name, string fallback) { int i = Args.ToList().LastIndexOf("--" + name); return i >= 0 && i + 1 < Args.Count ? Args[i + 1] : fallback; }

var loaded = ModelSource.Load(Args[0]);
var tokenizer = ModelSource.TokenizerFor(loaded, Opt("tokenizer", ""));
var model = loaded.Model.to(LMHarness.Devices.Default());
var prompt = tokenizer.Encode(Opt("prompt", "First Citizen:"));
var room = Math.Max(0, model.Config.ContextLength - prompt.Length);
var options = SamplingOptions.Greedy with { MaxNewTokens = Math.Min(int.Parse(Opt("max", "40")), room) };
var continuation = new Generator(model, tokenizer).GenerateIds(new[] { prompt }, options, true, null)[0];
Console.WriteLine(tokenizer.Decode(prompt) + continuation.Text);

var panels = Trajectory.Compute(model, tokenizer, prompt, continuation.Tokens);
foreach (var p in panels)
    Console.WriteLine($"{p.Name,-18} explained variance {string.Join(" ", p.ExplainedVarianceRatio.Select(v => v.ToString("P1")))}");
Console.WriteLine("wrote " + TrajectoryPlot.Save(panels, Opt("out", "trajectory.png")));

Console.WriteLine("per-token loss of the prompt (nats):");
foreach (var t in Perplexity.PerToken(model, tokenizer, tokenizer.Decode(prompt)))
    Console.WriteLine($"  {TrajectoryPlot.Visible(t.Text),-12} {t.Loss,7:F3}");

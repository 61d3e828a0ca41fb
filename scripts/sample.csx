// Sample from any model: a run folder, a step_*.ckpt, an HF checkpoint folder or a harness export.
// ./lmh scripts/sample.csx runs/shakespeare/base/seed0 --prompt "ROMEO:" --max 200 --temperature 0.8 --top_k 40
// Options: --prompt TEXT (repeatable: prompts decode as a batch) --max N --temperature T (0 = greedy) --top_k K --top_p P
//          --min_p P --penalty R --stop TEXT (repeatable) --seed S --tokenizer NAME (when the source has none) --no-cache
#load "../lmharness.csx"
using LMHarness.Generation;
using LMHarness.Interop;
using TorchSharp;

if (Args.Count == 0 || Args[0].StartsWith("--")) { Console.Error.WriteLine("usage: sample.csx <run folder | checkpoint | export folder> [--prompt TEXT] [--max N] [--temperature T] ..."); return; }
string Opt(string name, string fallback) { int i = Args.ToList().LastIndexOf("--" + name); return i >= 0 && i + 1 < Args.Count ? Args[i + 1] : fallback; }
List<string> All(string name) => Args.Select((a, i) => (a, i)).Where(x => x.a == "--" + name && x.i + 1 < Args.Count).Select(x => Args[x.i + 1]).ToList();

var loaded = ModelSource.Load(Args[0]);
var tokenizer = ModelSource.TokenizerFor(loaded, Opt("tokenizer", ""));
var model = loaded.Model.to(LMHarness.Devices.Default());
var options = new SamplingOptions
{
    MaxNewTokens = int.Parse(Opt("max", "200")),
    Temperature = double.Parse(Opt("temperature", "0.8")),
    TopK = int.Parse(Opt("top_k", "0")),
    TopP = double.Parse(Opt("top_p", "1")),
    MinP = double.Parse(Opt("min_p", "0")),
    RepetitionPenalty = double.Parse(Opt("penalty", "1")),
    StopStrings = All("stop").Select(s => s.Replace("\\n", "\n")).ToList(),
    Seed = Opt("seed", "") is { Length: > 0 } s ? long.Parse(s) : null,
};
var prompts = All("prompt") is { Count: > 0 } p ? p : new List<string> { "\n" };
foreach (var prompt in prompts) tokenizer.Encode(prompt);   // a character the tokenizer lacks fails here, before any echo
Console.Error.WriteLine($"model: {loaded.Description}; tokenizer {tokenizer.Identity}");
var generator = new Generator(model, tokenizer);
bool cache = !Args.Contains("--no-cache");
var transcript = ColouredTranscript.ForConsole();
if (prompts.Count == 1)
{
    transcript.Prompt(prompts[0]);
    var r = generator.Generate(prompts, options, cache, (_, text) => transcript.Continuation(text))[0];
    transcript.End();
    Console.Error.WriteLine($"[{r.Tokens.Count} tokens, stopped by {r.Reason}]");
}
else
{
    foreach (var r in generator.Generate(prompts, options, cache, null))
    {
        transcript.Prompt(r.Prompt); transcript.Continuation(r.Text); transcript.End();
        Console.Error.WriteLine($"[{r.Tokens.Count} tokens, stopped by {r.Reason}]");
    }
}

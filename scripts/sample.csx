// Sample from any model: a run folder, a step_*.ckpt, an HF checkpoint folder or a harness export.
//   dotnet script scripts/sample.csx -- runs/shakespeare/base/seed0 --prompt "ROMEO:" --max 200 --temperature 0.8 --top_k 40
// --help lists every knob with its default.
#load "../lmharness.csx"
using LMHarness.Experiments;
using LMHarness.Generation;
using LMHarness.Interop;
using TorchSharp;

var a = new ScriptArgs(Args);
string source  = a.Argument("model", "a run folder, a step_*.ckpt, an HF checkpoint folder or a harness export");
var prompts    = a.All("prompt", ["\n"], "prompt text; several decode as one batch");
var options    = Sampling.Read(a, maxNewTokens: 200);
string tokens  = a.Get("tokenizer", "", "tokenizer when the source names none (char, gpt2, ...)");
bool kvCache   = a.Get("kv_cache", true, "reuse keys and values between steps (false recomputes them)");
a.EnsureAllUsed("scripts/sample.csx");

var loaded = ModelSource.Load(source);
var tokenizer = ModelSource.TokenizerFor(loaded, tokens);
foreach (var prompt in prompts) tokenizer.Encode(prompt);   // a character the tokenizer lacks fails here, before any echo
Console.Error.WriteLine($"model: {loaded.Description}; tokenizer {tokenizer.Identity}");
Sampling.Print(new Generator(loaded.Model.to(LMHarness.Devices.Default()), tokenizer), prompts, options, kvCache);
